-- One control in one namespace over a time range, every evaluation, each traceable to its signed snapshot object.
-- param: from
-- param: to
-- param: control
-- param: namespace
-- param: scope = ''
SELECT cluster, observed_at, namespace, workload_kind, workload_name, container, framework, control_id,
       status, message, snapshot_id, seq, object_path, object_sha256
FROM posture_between(${from}, ${to}, ${scope})
WHERE control_id = ${control} AND namespace = ${namespace}
ORDER BY cluster, observed_at, workload_kind, workload_name, container, framework
