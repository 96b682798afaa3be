-- Report: the signed snapshots a report's posture rests on (each in-scope cluster's newest at the range's start and end) and their proofs.
-- param: from
-- param: to
-- param: scope = ''
WITH used AS (
  SELECT snapshot_id, 'end' AS role FROM compliance_at(${to}, 'cluster', ${scope})
  UNION
  SELECT snapshot_id, 'start' AS role FROM compliance_at(${from}, 'cluster', ${scope})
)
SELECT s.snapshot_id, s.cluster, s.group_path, s.seq, s.observed_at, s.agent_id, s.agent_version,
       s.object_path, s.object_size, s.object_sha256, s.log_entry_sha256,
       array_to_string(array_agg(DISTINCT u.role ORDER BY u.role), ',') AS roles
FROM snapshots s JOIN used u ON s.snapshot_id = u.snapshot_id
GROUP BY s.snapshot_id, s.cluster, s.group_path, s.seq, s.observed_at, s.agent_id, s.agent_version,
         s.object_path, s.object_size, s.object_sha256, s.log_entry_sha256
ORDER BY s.cluster, s.observed_at
