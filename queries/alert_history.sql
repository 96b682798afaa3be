-- Emitted alerts with their delivery outcome per sink, oldest first
-- param: rule = ''
-- param: cluster = ''
-- param: from = '1970-01-01T00:00:00Z'
-- param: to = '2262-01-01T00:00:00Z'
SELECT a.time, a.rule, a.type, a.severity, a.cluster, a.summary,
       string_agg(d.sink || ':' || d.status || CASE WHEN d.attempts IS NULL THEN '' ELSE '/' || CAST(d.attempts AS VARCHAR) END, ' ' ORDER BY d.sink) AS delivery,
       a.event_id
FROM alerts a
LEFT JOIN alert_deliveries d ON d.event_id = a.event_id
WHERE (${rule} = '' OR a.rule = ${rule})
  AND (${cluster} = '' OR a.cluster = ${cluster})
  AND a.time >= CAST(${from} AS TIMESTAMP)
  AND a.time < CAST(${to} AS TIMESTAMP)
GROUP BY a.time, a.rule, a.type, a.severity, a.cluster, a.summary, a.event_id
ORDER BY a.time, a.event_id
