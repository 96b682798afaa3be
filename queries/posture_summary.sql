-- Posture now: compliance per cluster and framework from every cluster's newest snapshot.
-- param: at = 'now'
-- param: scope = ''
--
-- Score math (schemas/lake-v1.md): a resource takes the worst status of its rows for a control;
-- control % = passing resources / evaluated resources (skip is not evaluated);
-- framework % = mean of the control percentages.
SELECT cluster,
       group_path,
       framework,
       round(compliance_pct, 1) AS compliance_pct,
       controls,
       fail AS failing_checks,
       CASE WHEN stale THEN 'stale since ' || to_char(observed_at, '%Y-%m-%d %H:%M') ELSE '' END AS note
FROM compliance_at(${at}, 'cluster', ${scope})
ORDER BY group_path, cluster, framework
