-- Compliance % per time bucket and framework over a range: each bucket scores the posture at its end.
-- param: from
-- param: to
-- param: bucket = '1 day'
-- param: by = 'framework'
-- param: scope = ''
--
-- `by`: framework | cluster | group | control (adds cluster/group_path or control_id columns).
-- Clusters without a snapshot within the staleness bound at a bucket's end are counted in
-- stale_clusters and left out of the score.
SELECT *
FROM compliance_trend(${bucket}, ${from}, ${to}, ${by}, ${scope})
ORDER BY bucket_start, framework
