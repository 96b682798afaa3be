-- Report: one framework's compliance % per bucket over a range (each bucket scores the posture at its end).
-- param: bucket
-- param: from
-- param: to
-- param: framework
-- param: scope = ''
SELECT bucket_start, bucket_end, clusters, stale_clusters, controls, pass, fail, warn, error, evaluated, compliance_pct
FROM compliance_trend(${bucket}, ${from}, ${to}, 'framework', ${scope})
WHERE framework = ${framework}
ORDER BY bucket_start
