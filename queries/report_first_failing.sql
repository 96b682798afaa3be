-- Report: per (workload, container, control) failing in the range, its last non-failing and first failing evaluation in the range.
-- param: from
-- param: to
-- param: framework
-- param: scope = ''
--
-- The report dates a finding's failing run from these: it starts at the cluster's first snapshot
-- after `last_ok` (the last evaluation that did not fail or error), or at `first_failing` when
-- nothing passed in the range (then the run may be older than the range). One pass, one grouping.
SELECT cluster, namespace, workload_kind, workload_name, container, control_id,
       max(observed_at) FILTER (WHERE status NOT IN ('fail', 'error')) AS last_ok,
       min(observed_at) FILTER (WHERE status IN ('fail', 'error')) AS first_failing
FROM posture_between(${from}, ${to}, ${scope})
WHERE framework = ${framework}
GROUP BY cluster, namespace, workload_kind, workload_name, container, control_id
HAVING min(observed_at) FILTER (WHERE status IN ('fail', 'error')) IS NOT NULL
