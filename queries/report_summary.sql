-- Report: one framework's score for a scope as a whole at a time (executive summary; run at the range's start and end).
-- param: at
-- param: framework
-- param: scope = ''
SELECT clusters, stale_clusters, controls, pass, fail, warn, error, evaluated, compliance_pct
FROM compliance_at(${at}, 'framework', ${scope})
WHERE framework = ${framework}
