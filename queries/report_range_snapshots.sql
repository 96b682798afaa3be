-- Report: the in-scope snapshots observed in the range (the trend's inputs), by id and object digest.
-- param: from
-- param: to
-- param: scope = ''
SELECT snapshot_id, cluster, observed_at, object_sha256
FROM snapshots
WHERE observed_at >= to_timestamp(${from}) AND observed_at <= to_timestamp(${to})
  AND (${scope} = '' OR cluster = ${scope} OR group_path = ${scope} OR starts_with(group_path, ${scope} || '/'))
ORDER BY snapshot_id
