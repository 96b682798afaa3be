-- What changed between two times, per (cluster, workload, control): new failures, fixed, still failing, gone.
-- param: from
-- param: to
-- param: scope = ''
-- param: changes = 'all'
--
-- Failing means a resource's worst row is `fail` or `error`. `gone`: failing at `from`, and the
-- workload (or its control) is no longer evaluated at `to`. `changes`: comma-separated, or 'all'.
SELECT change, cluster, group_path, namespace, workload_kind, workload_name, framework, control_id,
       severity, status_before, status_after, message, snapshot_before, snapshot_after, stale
FROM posture_diff(${from}, ${to}, ${scope})
WHERE ${changes} = 'all' OR array_has(string_to_array(${changes}, ','), change)
ORDER BY CASE change WHEN 'new' THEN 0 WHEN 'still_failing' THEN 1 WHEN 'gone' THEN 2 ELSE 3 END,
         cluster, namespace, workload_kind, workload_name, framework, control_id
