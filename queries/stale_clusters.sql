-- Clusters whose newest snapshot at a time is older than the staleness bound.
-- param: at = 'now'
-- param: scope = ''
SELECT DISTINCT cluster, group_path, observed_at AS last_observed_at, snapshot_id
FROM compliance_at(${at}, 'cluster', ${scope})
WHERE stale
ORDER BY cluster
