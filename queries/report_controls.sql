-- Report: resources per status and compliance % of each control of one framework at a time.
-- param: at
-- param: framework
-- param: scope = ''
SELECT control_id, pass, fail, warn, error, evaluated, compliance_pct
FROM compliance_at(${at}, 'control', ${scope})
WHERE framework = ${framework}
ORDER BY control_id
