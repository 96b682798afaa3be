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

/// Lets long identifiers wrap in narrow table cells: a zero-width space after `/`, `:`, `@`
/// and every 16 characters of an unbroken run (done here, once, rather than by the template).
fn breakable(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    let mut run = 0;
    for ch in s.chars() {
        out.push(ch);
        run += 1;
        if matches!(ch, '/' | ':' | '@' | '-' | '.') || run >= 16 {
            out.push('\u{200B}');
            run = 0;
        }
    }
    out
}

fn short_digest(d: &str) -> String {
    if d.len() > 19 { format!("{}…", &d[..19]) } else { d.to_string() }
}

/// The JSON the template reads.
pub fn template_data(r: &Report) -> Vec<u8> {
    let mut v = serde_json::to_value(r).expect("serializable");
    add_texts(&mut v);
    // Findings can number tens of thousands: hand the template finished cell texts.
    if let Some(items) = v["findings"].as_array_mut() {
        for (item, f) in items.iter_mut().zip(&r.findings) {
            let image = f.image.split('@').next().unwrap_or_default();
            let digest =
                if f.image_digest.is_empty() { String::new() } else { format!(" @ {}", short_digest(&f.image_digest)) };
            let when = f.first_seen_failing.get(..16).unwrap_or(&f.first_seen_failing).replace('T', " ");
            let obj = item.as_object_mut().expect("finding object");
            obj.insert(
                "workload".into(),
                Value::String(breakable(&format!("{}/{}", f.workload_kind, f.workload_name))),
            );
            obj.insert("image_text".into(), Value::String(format!("{}{digest}", breakable(image))));
            obj.insert("control_text".into(), Value::String(breakable(&f.control_id)));
            obj.insert(
                "first_text".into(),
                Value::String(if f.failing_since_range_start { format!("≤ {when}") } else { when }),
            );
            obj.insert("object_short".into(), Value::String(short_digest(&f.object_sha256)));
        }
    }
    if let Some(items) = v["evidence"]["snapshots"].as_array_mut() {
        for item in items.iter_mut() {
            let obj = item.as_object_mut().expect("snapshot object");
            for k in ["object_path", "object_sha256", "log_entry_sha256", "key_id"] {
                let b = breakable(obj[k].as_str().unwrap_or_default());
                obj.insert(format!("{k}_text"), Value::String(b));
            }
        }
    }
    let input = breakable(&r.meta.input_digest);
    let range = breakable(&r.summary.snapshots_in_range_digest);
    let meta = v["meta"].as_object_mut().expect("meta object");
    meta.insert("scope_id".into(), Value::String(r.meta.scope.id()));
    let versions =
        if r.meta.framework_versions.is_empty() { "n/a".into() } else { r.meta.framework_versions.join(", ") };
    meta.insert("framework_versions_text".into(), Value::String(versions));
    let catalog = if r.meta.catalog_version.is_empty() { "none".into() } else { r.meta.catalog_version.clone() };
    meta.insert("catalog_version_text".into(), Value::String(catalog));
    meta.insert("input_digest_text".into(), Value::String(input));
    v["summary"]["snapshots_in_range_digest_text"] = Value::String(range);
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
