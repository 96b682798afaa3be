//! The report as CSV: one file per section, columns fixed by `schemas/report-csv.v1.md`.
//!
//! RFC 4180: comma-separated, CRLF line ends, fields quoted when they hold a comma, quote, CR or
//! LF, quotes doubled. Numbers print the same way everywhere (percentages with two decimals,
//! times as RFC 3339 UTC), and rows are in a fixed order, so identical input gives
//! byte-identical files. Nothing run-specific (report id, generation time) is written.

use crate::error::ReportError;
use crate::report::{Report, round2};

/// `(file name, columns)` of every section, in the order they are written.
pub const SECTIONS: &[(&str, &[&str])] = &[
    (
        "summary.csv",
        &[
            "format_version",
            "framework",
            "framework_versions",
            "catalog_version",
            "scope",
            "from",
            "to",
            "compliance_pct",
            "compliance_pct_start",
            "change_pts",
            "controls_total",
            "controls_passing",
            "controls_failing",
            "controls_warning",
            "controls_not_evaluated",
            "controls_manual",
            "resources_evaluated",
            "resources_pass",
            "resources_fail",
            "resources_warn",
            "resources_error",
            "clusters",
            "stale_clusters",
            "findings",
            "failing_resources",
            "snapshots_used",
            "snapshots_verified",
            "snapshots_in_range",
            "snapshots_in_range_digest",
            "bucket_seconds",
            "staleness_hours",
            "lake_id",
            "tarn_version",
            "input_digest",
        ],
    ),
    (
        "controls.csv",
        &[
            "control_id",
            "framework_version",
            "title",
            "severity",
            "status",
            "resources_pass",
            "resources_fail",
            "resources_warn",
            "resources_error",
            "resources_evaluated",
            "compliance_pct",
            "automated",
            "remediation",
        ],
    ),
    (
        "trend.csv",
        &["bucket_start", "bucket_end", "compliance_pct", "clusters", "stale_clusters", "resources_evaluated"],
    ),
    (
        "clusters.csv",
        &[
            "cluster",
            "group_path",
            "compliance_pct",
            "controls",
            "resources_pass",
            "resources_fail",
            "resources_warn",
            "resources_error",
            "resources_evaluated",
            "findings",
            "snapshot_id",
            "observed_at",
            "stale",
        ],
    ),
    (
        "findings.csv",
        &[
            "cluster",
            "group_path",
            "namespace",
            "workload_kind",
            "workload_name",
            "container",
            "image",
            "image_digest",
            "framework_version",
            "control_id",
            "severity",
            "status",
            "message",
            "first_seen_failing",
            "failing_since_range_start",
            "snapshot_id",
            "observed_at",
            "object_sha256",
            "log_entry_sha256",
        ],
    ),
    (
        "evidence.csv",
        &[
            "snapshot_id",
            "cluster",
            "group_path",
            "role",
            "seq",
            "observed_at",
            "agent_id",
            "agent_version",
            "object_path",
            "object_size",
            "object_sha256",
            "log_entry_sha256",
            "signature",
            "key_id",
            "detail",
        ],
    ),
];

/// A percentage as the CSV prints it: two decimals, empty when there is none.
pub fn pct(p: Option<f64>) -> String {
    p.map(|p| format!("{:.2}", round2(p))).unwrap_or_default()
}

fn pts(p: Option<f64>) -> String {
    p.map(|p| format!("{:+.2}", round2(p))).unwrap_or_default()
}

fn table(columns: &[&str], rows: Vec<Vec<String>>) -> Result<Vec<u8>, ReportError> {
    let mut w = ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::CRLF)
        .quote_style(::csv::QuoteStyle::Necessary)
        .from_writer(Vec::new());
    let err = |e: ::csv::Error| ReportError::Invalid(format!("writing CSV: {e}"));
    w.write_record(columns).map_err(err)?;
    for r in rows {
        debug_assert_eq!(r.len(), columns.len());
        w.write_record(&r).map_err(err)?;
    }
    w.into_inner().map_err(|e| ReportError::Invalid(format!("writing CSV: {e}")))
}

/// Every section as `(file name, bytes)`.
pub fn files(r: &Report) -> Result<Vec<(String, Vec<u8>)>, ReportError> {
    let s = &r.summary;
    let m = &r.meta;
    let n = |x: u64| x.to_string();
    let summary = vec![vec![
        m.format_version.clone(),
        m.framework.clone(),
        m.framework_versions.join(" "),
        m.catalog_version.clone(),
        m.scope.id(),
        m.from.clone(),
        m.to.clone(),
        pct(s.compliance_pct),
        pct(s.compliance_pct_start),
        pts(s.change_pts),
        n(s.controls_total),
        n(s.controls_passing),
        n(s.controls_failing),
        n(s.controls_warning),
        n(s.controls_not_evaluated),
        n(s.controls_manual),
        n(s.resources_evaluated),
        n(s.resources_pass),
        n(s.resources_fail),
        n(s.resources_warn),
        n(s.resources_error),
        n(s.clusters),
        n(s.stale_clusters),
        n(s.findings),
        n(s.failing_resources),
        n(s.snapshots_used),
        n(s.snapshots_verified),
        n(s.snapshots_in_range),
        s.snapshots_in_range_digest.clone(),
        m.bucket_seconds.to_string(),
        m.staleness_hours.to_string(),
        m.lake_id.clone(),
        m.tarn_version.clone(),
        m.input_digest.clone(),
    ]];
    let controls = r
        .controls
        .iter()
        .map(|c| {
            vec![
                c.control_id.clone(),
                c.framework_version.clone(),
                c.title.clone(),
                c.severity.clone(),
                c.status.clone(),
                n(c.pass),
                n(c.fail),
                n(c.warn),
                n(c.error),
                n(c.evaluated),
                pct(c.compliance_pct),
                c.automated.to_string(),
                c.remediation.clone(),
            ]
        })
        .collect();
    let trend = r
        .trend
        .iter()
        .map(|t| {
            vec![
                t.bucket_start.clone(),
                t.bucket_end.clone(),
                pct(t.compliance_pct),
                n(t.clusters),
                n(t.stale_clusters),
                n(t.evaluated),
            ]
        })
        .collect();
    let clusters = r
        .clusters
        .iter()
        .map(|c| {
            vec![
                c.cluster.clone(),
                c.group_path.clone(),
                pct(c.compliance_pct),
                n(c.controls),
                n(c.pass),
                n(c.fail),
                n(c.warn),
                n(c.error),
                n(c.evaluated),
                n(c.findings),
                c.snapshot_id.clone(),
                c.observed_at.clone(),
                c.stale.to_string(),
            ]
        })
        .collect();
    let findings = r
        .findings
        .iter()
        .map(|f| {
            vec![
                f.cluster.clone(),
                f.group_path.clone(),
                f.namespace.clone(),
                f.workload_kind.clone(),
                f.workload_name.clone(),
                f.container.clone(),
                f.image.clone(),
                f.image_digest.clone(),
                f.framework_version.clone(),
                f.control_id.clone(),
                f.severity.clone(),
                f.status.clone(),
                f.message.clone(),
                f.first_seen_failing.clone(),
                f.failing_since_range_start.to_string(),
                f.snapshot_id.clone(),
                f.observed_at.clone(),
                f.object_sha256.clone(),
                f.log_entry_sha256.clone(),
            ]
        })
        .collect();
    let evidence = r
        .evidence
        .snapshots
        .iter()
        .map(|e| {
            vec![
                e.snapshot_id.clone(),
                e.cluster.clone(),
                e.group_path.clone(),
                e.role.clone(),
                n(e.seq),
                e.observed_at.clone(),
                e.agent_id.clone(),
                e.agent_version.clone(),
                e.object_path.clone(),
                n(e.object_size),
                e.object_sha256.clone(),
                e.log_entry_sha256.clone(),
                e.signature.clone(),
                e.key_id.clone(),
                e.detail.clone(),
            ]
        })
        .collect();
    let bodies = [summary, controls, trend, clusters, findings, evidence];
    SECTIONS.iter().zip(bodies).map(|((name, cols), rows)| Ok((name.to_string(), table(cols, rows)?))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented schema and the writer never drift apart.
    #[test]
    fn sections_match_the_documented_schema() {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("../../../schemas/report-csv.v1.json")).expect("valid JSON");
        let documented: Vec<(String, Vec<String>)> = doc["sections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let cols = s["columns"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_string());
                (s["file"].as_str().unwrap().to_string(), cols.collect())
            })
            .collect();
        let written: Vec<(String, Vec<String>)> =
            SECTIONS.iter().map(|(f, cols)| (f.to_string(), cols.iter().map(|c| c.to_string()).collect())).collect();
        assert_eq!(documented, written);
        for s in doc["sections"].as_array().unwrap() {
            for c in s["columns"].as_array().unwrap() {
                assert!(!c["description"].as_str().unwrap().is_empty(), "{} {} undocumented", s["file"], c["name"]);
            }
        }
    }

    #[test]
    fn rfc4180_quoting() {
        let out = table(&["a", "b"], vec![vec!["x,y".into(), "say \"hi\"\nthere".into()]]).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "a,b\r\n\"x,y\",\"say \"\"hi\"\"\nthere\"\r\n");
    }
}
