-- Report: every failing or erroring row of one framework in the posture at a time, with the signed snapshot that proves it.
-- param: at
-- param: framework
-- param: scope = ''
SELECT cluster, group_path, namespace, workload_kind, workload_name, container, image, image_digest,
       framework_version, control_id, severity, status, message, observed_at, snapshot_id, seq,
       object_path, object_sha256, log_entry_sha256, stale
FROM posture_at(${at}, ${scope})
WHERE framework = ${framework} AND status IN ('fail', 'error')
ORDER BY cluster, namespace, workload_kind, workload_name, container, control_id
