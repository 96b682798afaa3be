-- Posture now: the latest snapshot of every cluster, per framework.
--
-- Score math (schemas/lake-v1.md):
--   a resource is a workload; it passes a control when every row of it for that control passes;
--   control % = passing resources / evaluated resources;
--   framework % = mean of control %.
WITH latest AS (
    SELECT snapshot_id
    FROM (
        SELECT snapshot_id,
               row_number() OVER (PARTITION BY cluster ORDER BY observed_at DESC, seq DESC) AS rn
        FROM snapshots
    )
    WHERE rn = 1
),
per_resource AS (
    SELECT e.cluster, e.group_path, e.framework, e.framework_version, e.control_id,
           e.namespace, e.workload_kind, e.workload_name,
           bool_and(e.status = 'pass') AS passing
    FROM evaluations e
    JOIN latest l ON e.snapshot_id = l.snapshot_id
    GROUP BY e.cluster, e.group_path, e.framework, e.framework_version, e.control_id,
             e.namespace, e.workload_kind, e.workload_name
),
per_control AS (
    SELECT cluster, group_path, framework, framework_version, control_id,
           count(*) AS resources,
           sum(CASE WHEN passing THEN 0 ELSE 1 END) AS failing,
           avg(CASE WHEN passing THEN 100.0 ELSE 0.0 END) AS control_pct
    FROM per_resource
    GROUP BY cluster, group_path, framework, framework_version, control_id
)
SELECT cluster,
       group_path,
       framework || '@' || framework_version AS framework,
       max(resources) AS workloads,
       sum(CASE WHEN failing > 0 THEN 1 ELSE 0 END) AS failing_controls,
       sum(failing) AS failing_checks,
       round(avg(control_pct), 1) AS compliance_pct
FROM per_control
GROUP BY cluster, group_path, framework, framework_version
ORDER BY group_path, cluster, framework
