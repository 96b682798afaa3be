-- Compliance % per cluster and framework as of a time, from the per-snapshot rollups (score math: schemas/lake-v1.md).
-- param: at
-- param: scope = ''
SELECT cluster, group_path, framework, round(compliance_pct, 2) AS compliance_pct,
       pass, fail, warn, error, controls, stale, observed_at, snapshot_id
FROM compliance_at(${at}, 'cluster', ${scope})
ORDER BY group_path, cluster, framework
