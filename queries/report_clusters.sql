-- Report: one framework's score per cluster at a time, with the snapshot each cluster is judged by.
-- param: at
-- param: framework
-- param: scope = ''
SELECT cluster, group_path, snapshot_id, observed_at, stale, controls, pass, fail, warn, error, evaluated, compliance_pct
FROM compliance_at(${at}, 'cluster', ${scope})
WHERE framework = ${framework}
ORDER BY group_path, cluster
