//! Rendering a built report into its files and committing them to the lake as signed evidence.

use chrono::{DateTime, Utc};
use tarn_lake::Lake;
use tarn_lake::reports::{CommittedReport, ReportRecord, ReportUpload, commit_report};
use tarn_trust::keys::SigningKeyPair;

use crate::error::ReportError;
use crate::report::{Report, fmt_time};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Pdf,
    Csv,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "pdf" => Ok(Format::Pdf),
            "csv" => Ok(Format::Csv),
            o => Err(format!("unknown report format {o:?} (expected pdf or csv)")),
        }
    }
}

/// A report's rendered files: `report.pdf` and/or the CSV sections.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub files: Vec<(String, String, Vec<u8>)>,
}

impl Rendered {
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.files.iter().find(|(n, _, _)| n == name).map(|(_, _, b)| b.as_slice())
    }
}

/// Stamps the report with its id and generation time (both appear in the PDF, never in CSV).
pub fn stamp(report: &mut Report, now: DateTime<Utc>) {
    report.meta.report_id = uuid::Uuid::now_v7().to_string();
    report.meta.generated_at = fmt_time(now);
}

pub fn render(report: &Report, formats: &[Format]) -> Result<Rendered, ReportError> {
    let mut files = Vec::new();
    if formats.contains(&Format::Pdf) {
        files.push(("report.pdf".to_string(), "application/pdf".to_string(), crate::pdf::render(report)?));
    }
    if formats.contains(&Format::Csv) {
        for (name, bytes) in crate::csv::files(report)? {
            files.push((name, "text/csv; charset=utf-8; header=present".to_string(), bytes));
        }
    }
    Ok(Rendered { files })
}

/// Writes the files under `reports/files/` and commits a signed report log entry.
pub async fn commit(
    lake: &Lake,
    key: &SigningKeyPair,
    report: &Report,
    rendered: &Rendered,
    job: Option<String>,
) -> Result<CommittedReport, ReportError> {
    let m = &report.meta;
    let parse = |s: &str| {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.to_utc())
            .map_err(|e| ReportError::Invalid(format!("report time {s:?}: {e}")))
    };
    let record = ReportRecord {
        report_id: m.report_id.clone(),
        title: m.title.clone(),
        framework: m.framework.clone(),
        scope: m.scope.arg(),
        from: parse(&m.from)?,
        to: parse(&m.to)?,
        generated_at: parse(&m.generated_at)?,
        tarn_version: m.tarn_version.clone(),
        input_digest: m.input_digest.clone(),
        job,
        snapshots: report.evidence.snapshots.iter().map(|s| s.snapshot_id.clone()).collect(),
        files: Vec::new(),
    };
    let uploads = rendered
        .files
        .iter()
        .map(|(name, media, bytes)| ReportUpload {
            name: name.clone(),
            media_type: media.clone(),
            bytes: bytes::Bytes::from(bytes.clone()),
        })
        .collect();
    Ok(commit_report(lake, key, record, uploads).await?)
}
