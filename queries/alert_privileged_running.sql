-- Privileged or host-namespace containers in a cluster's snapshot (PSS baseline failures)
-- An alert rule's custom condition: any row means firing. Alerts fill the parameters with the
-- snapshot being evaluated.
-- param: cluster
-- param: snapshot_id
SELECT namespace, workload_kind, workload_name, container, image, control_id, message
FROM evaluations
WHERE cluster = ${cluster}
  AND snapshot_id = ${snapshot_id}
  AND framework = 'pss-baseline'
  AND status = 'fail'
  AND control_id IN ('privileged', 'hostNamespaces')
ORDER BY namespace, workload_kind, workload_name, container, control_id
