-- Failing controls of one cluster as of a time (its newest snapshot at or before `at`).
-- param: at
-- param: cluster
SELECT namespace, workload_kind, workload_name, container, framework, control_id, severity, message,
       observed_at, snapshot_id, stale
FROM posture_at(${at}, ${cluster})
WHERE status = 'fail'
ORDER BY namespace, workload_kind, workload_name, container, framework, control_id
