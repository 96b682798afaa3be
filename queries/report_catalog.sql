-- Report: the catalog entries (title, severity, remediation) of one framework's controls, every catalog version.
-- param: framework
SELECT framework_version, control_id, title, severity, description, remediation, automated, manual_reason
FROM controls
WHERE framework = ${framework}
ORDER BY control_id, framework_version
