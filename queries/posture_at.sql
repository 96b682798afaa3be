-- Posture at a point in time: the rows of every in-scope cluster's newest snapshot at or before `at` (stale clusters flagged, not dropped).
-- param: at
-- param: scope = ''
-- param: statuses = 'fail,warn,error'
--
-- `scope`: '' for the fleet, a cluster name, or '/group/path' for a group and its descendants.
-- `statuses`: comma-separated statuses to keep, or 'all'.
SELECT cluster, group_path, namespace, workload_kind, workload_name, container, image, image_digest,
       framework, framework_version, control_id, status, severity, message,
       observed_at, snapshot_id, seq, object_sha256, stale
FROM posture_at(${at}, ${scope})
WHERE ${statuses} = 'all' OR array_has(string_to_array(${statuses}, ','), status)
ORDER BY cluster, namespace, workload_kind, workload_name, container, framework, control_id
