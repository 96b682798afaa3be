//! The report as PDF, typeset by typst from `reports/templates/report.typ`.

use serde_json::{Map, Value};

use crate::error::ReportError;
use crate::report::{Report, round2};

/// The template, compiled into the binary so a report never depends on files at run time.
pub const TEMPLATE: &str = include_str!("../../../reports/templates/report.typ");

fn pct_text(v: &Value) -> Value {
    match v.as_f64() {
        Some(p) => Value::String(format!("{:.2} %", round2(p))),
        None => Value::String("n/a".into()),
    }
}

/// Adds `<field>_text` beside every percentage so the PDF prints what the CSV holds.
fn add_texts(v: &mut Value) {
    match v {
        Value::Object(map) => {
            let mut extra = Map::new();
            for (k, val) in map.iter_mut() {
                if k == "compliance_pct" || k == "compliance_pct_start" {
                    extra.insert(format!("{k}_text"), pct_text(val));
                } else if k == "change_pts" {
                    let t = val.as_f64().map_or("n/a".to_string(), |p| format!("{:+.2} points", round2(p)));
                    extra.insert("change_pts_text".into(), Value::String(t));
                } else {
                    add_texts(val);
                }
            }
            map.extend(extra);
        }
        Value::Array(items) => items.iter_mut().for_each(add_texts),
        _ => {}
    }
}

/// The JSON the template reads.
pub fn template_data(r: &Report) -> Vec<u8> {
    let mut v = serde_json::to_value(r).expect("serializable");
    add_texts(&mut v);
    let meta = v["meta"].as_object_mut().expect("meta object");
    meta.insert("scope_id".into(), Value::String(r.meta.scope.id()));
    let versions =
        if r.meta.framework_versions.is_empty() { "n/a".into() } else { r.meta.framework_versions.join(", ") };
    meta.insert("framework_versions_text".into(), Value::String(versions));
    let catalog = if r.meta.catalog_version.is_empty() { "none".into() } else { r.meta.catalog_version.clone() };
    meta.insert("catalog_version_text".into(), Value::String(catalog));
    serde_json::to_vec(&v).expect("serializable")
}

/// Typesets the report. `generated_at` and `report_id` in `r.meta` should be set.
pub fn render(r: &Report) -> Result<Vec<u8>, ReportError> {
    let created = chrono::DateTime::parse_from_rfc3339(&r.meta.generated_at)
        .map(|t| t.to_utc())
        .unwrap_or_else(|_| chrono::Utc::now());
    let ident =
        format!("tarn-report-{}", if r.meta.report_id.is_empty() { &r.meta.input_digest } else { &r.meta.report_id });
    crate::typeset::pdf(TEMPLATE, template_data(r), created, &ident)
}
