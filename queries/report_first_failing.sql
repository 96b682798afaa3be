-- Report: when each (workload, container, control) failing at the range's end started its unbroken failing run within the range.
-- param: from
-- param: to
-- param: framework
-- param: scope = ''
--
-- A row passes, warns or is skipped: the run is broken there. The first failing evaluation after
-- the last non-failing one starts the run; a run that began before `from` starts at the range's
-- first snapshot (the report marks it "before the range" when that is the range's first snapshot).
WITH h AS (
  SELECT cluster, namespace, workload_kind, workload_name, container, control_id, observed_at,
         status IN ('fail', 'error') AS failing
  FROM posture_between(${from}, ${to}, ${scope})
  WHERE framework = ${framework}
),
ok AS (
  SELECT cluster, namespace, workload_kind, workload_name, container, control_id, max(observed_at) AS last_ok
  FROM h WHERE NOT failing
  GROUP BY cluster, namespace, workload_kind, workload_name, container, control_id
)
SELECT h.cluster, h.namespace, h.workload_kind, h.workload_name, h.container, h.control_id,
       min(h.observed_at) AS first_failing
FROM h LEFT JOIN ok
  ON h.cluster = ok.cluster AND h.namespace = ok.namespace AND h.workload_kind = ok.workload_kind
 AND h.workload_name = ok.workload_name AND h.container = ok.container AND h.control_id = ok.control_id
WHERE h.failing AND (ok.last_ok IS NULL OR h.observed_at > ok.last_ok)
GROUP BY h.cluster, h.namespace, h.workload_kind, h.workload_name, h.container, h.control_id
