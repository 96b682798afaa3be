//! Compliance reports as evidence: the files of each generated report (PDF, CSV) live under
//! `reports/files/`, and a hash-chained, signed log under `reports/log/` commits them.
//!
//! ```text
//! reports/files/date=<YYYY-MM-DD>/<report-id>/<name>   report files (immutable)
//! reports/log/<seq:020>.json                           entry n: record + sha256(entry n-1) + Sigstore bundle
//! ```
//!
//! An entry's signed in-toto statement names every file by SHA-256 (the subjects) and carries the
//! record (what was reported, over which range and snapshots) and the log position, exactly as
//! snapshot entries do; `tarn evidence verify` checks the chain, the signatures and every file.

use chrono::{DateTime, NaiveDate, Utc};
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutMode, PutPayload};
use serde::{Deserialize, Serialize};
use tarn_trust::bundle::{Bundle, sign_statement};
use tarn_trust::keys::SigningKeyPair;
use tarn_trust::statement::{Statement, Subject};

use crate::error::{LakeError, Result};
use crate::store::Lake;

pub const REPORTS_PREFIX: &str = "reports";
pub const REPORT_FILES_PREFIX: &str = "reports/files";
pub const REPORT_LOG_PREFIX: &str = "reports/log";
pub const REPORT_ENTRY_FORMAT: &str = "tarn.report-entry/v1";
/// Predicate type of report statements.
pub const REPORT_PREDICATE_TYPE: &str = "https://tarn.dev/attestation/compliance-report/v1";

/// `reports/files/date=<d>/<report-id>/<name>`
pub fn report_file(date: NaiveDate, report_id: &str, name: &str) -> Path {
    Path::from(format!("{REPORT_FILES_PREFIX}/date={}/{report_id}/{name}", date.format("%Y-%m-%d")))
}

/// `reports/log/<seq:020>.json`; sequence numbers start at 1.
pub fn report_entry(seq: u64) -> Path {
    Path::from(format!("{REPORT_LOG_PREFIX}/{seq:020}.json"))
}

fn parse_entry_key(key: &str) -> Option<u64> {
    let digits = key.strip_prefix(REPORT_LOG_PREFIX)?.strip_prefix('/')?.strip_suffix(".json")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit())).then(|| digits.parse().ok()).flatten()
}

/// One file of a report, as committed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportFile {
    /// File name within the report (`report.pdf`, `findings.csv`, ...).
    pub name: String,
    pub path: String,
    pub media_type: String,
    pub size: u64,
    /// `sha256:<hex>`
    pub sha256: String,
}

/// What a report is: the request it answers, when and by what it was made, and its files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportRecord {
    pub report_id: String,
    pub title: String,
    pub framework: String,
    /// `''` (fleet), a cluster name or a group path.
    pub scope: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub generated_at: DateTime<Utc>,
    pub tarn_version: String,
    /// Digest over everything the report was computed from (request, snapshots, queries):
    /// identical input gives identical CSV files and the same digest.
    pub input_digest: String,
    /// The schedule job that produced it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// Snapshots the posture rests on (each cluster's newest at the range's start and end).
    pub snapshots: Vec<String>,
    pub files: Vec<ReportFile>,
}

/// One entry of the report log as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportEntry {
    pub format: String,
    pub lake_id: String,
    pub seq: u64,
    pub prev_entry_sha256: Option<String>,
    pub report: ReportRecord,
    pub bundle: Bundle,
}

/// The statement a writer signs for `record` at log position (`lake_id`, `seq`, `prev`).
pub fn report_statement(record: &ReportRecord, lake_id: &str, seq: u64, prev: Option<&str>) -> Statement {
    let subjects = record
        .files
        .iter()
        .map(|f| Subject::sha256(f.path.clone(), f.sha256.strip_prefix("sha256:").unwrap_or(&f.sha256)))
        .collect();
    Statement::new(
        subjects,
        REPORT_PREDICATE_TYPE,
        serde_json::json!({
            "report": record,
            "log": { "lake_id": lake_id, "seq": seq, "prev_entry_sha256": prev },
        }),
    )
}

/// A report log entry read back, with the digest of its exact bytes.
#[derive(Debug, Clone)]
pub struct RawReportEntry {
    pub seq: u64,
    pub path: Path,
    pub bytes: bytes::Bytes,
    pub sha256: String,
}

impl RawReportEntry {
    pub fn parse(&self) -> Result<ReportEntry> {
        let e: ReportEntry = serde_json::from_slice(&self.bytes)
            .map_err(|e| LakeError::CorruptEntry { path: self.path.to_string(), reason: e.to_string() })?;
        if e.format != REPORT_ENTRY_FORMAT {
            return Err(LakeError::CorruptEntry {
                path: self.path.to_string(),
                reason: format!("unknown report entry format {:?}", e.format),
            });
        }
        Ok(e)
    }
}

/// Sequence numbers of the report log, and keys under `reports/log/` that are not entries.
pub async fn list_entries(lake: &Lake) -> Result<(Vec<u64>, Vec<Path>)> {
    let metas: Vec<_> = lake.store().list(Some(&Path::from(REPORT_LOG_PREFIX))).try_collect().await?;
    let (mut seqs, mut foreign) = (Vec::new(), Vec::new());
    for m in metas {
        match parse_entry_key(m.location.as_ref()) {
            Some(s) if s >= 1 => seqs.push(s),
            _ => foreign.push(m.location),
        }
    }
    seqs.sort_unstable();
    Ok((seqs, foreign))
}

pub async fn get_entry(lake: &Lake, seq: u64) -> Result<Option<RawReportEntry>> {
    let path = report_entry(seq);
    match lake.store().get(&path).await {
        Ok(r) => {
            let bytes = r.bytes().await?;
            let sha256 = format!("sha256:{}", tarn_trust::sha256_hex(&bytes));
            Ok(Some(RawReportEntry { seq, path, bytes, sha256 }))
        }
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Every entry of the report log, in order.
pub async fn read_log(lake: &Lake) -> Result<Vec<RawReportEntry>> {
    let (seqs, _) = list_entries(lake).await?;
    let mut out = Vec::with_capacity(seqs.len());
    for s in seqs {
        if let Some(e) = get_entry(lake, s).await? {
            out.push(e);
        }
    }
    Ok(out)
}

/// The files of a report about to be committed.
#[derive(Debug, Clone)]
pub struct ReportUpload {
    pub name: String,
    pub media_type: String,
    pub bytes: bytes::Bytes,
}

/// A committed report.
#[derive(Debug, Clone)]
pub struct CommittedReport {
    pub seq: u64,
    pub entry_path: Path,
    pub record: ReportRecord,
}

const MAX_COMMIT_ATTEMPTS: u32 = 256;

/// Writes a report's files (create-only) and then appends its signed entry to the report log.
/// `record.files` is filled in here. Files land before the entry, so a crash in between leaves
/// files no entry commits, which verification reports as unreferenced (or in flight).
pub async fn commit_report(
    lake: &Lake,
    key: &SigningKeyPair,
    mut record: ReportRecord,
    uploads: Vec<ReportUpload>,
) -> Result<CommittedReport> {
    let lake_id = lake.ensure_descriptor().await?.lake_id;
    let date = record.generated_at.date_naive();
    record.files.clear();
    for u in uploads {
        let path = report_file(date, &record.report_id, &u.name);
        let size = u.bytes.len() as u64;
        let sha256 = format!("sha256:{}", tarn_trust::sha256_hex(&u.bytes));
        match lake.store().put_opts(&path, PutPayload::from(u.bytes), PutMode::Create.into()).await {
            Ok(_) => {}
            // A retried put whose first attempt landed: only accept identical bytes.
            Err(object_store::Error::AlreadyExists { .. }) => {
                let existing = lake.store().get(&path).await?.bytes().await?;
                if format!("sha256:{}", tarn_trust::sha256_hex(&existing)) != sha256 {
                    return Err(LakeError::CorruptEntry {
                        path: path.to_string(),
                        reason: "a different report file already exists at this key".into(),
                    });
                }
            }
            Err(e) => return Err(e.into()),
        }
        record.files.push(ReportFile { name: u.name, path: path.to_string(), media_type: u.media_type, size, sha256 });
    }
    crate::writer::publish_key(lake, key).await?;
    let (seqs, _) = list_entries(lake).await?;
    let mut prev = match seqs.last() {
        Some(&s) => get_entry(lake, s).await?,
        None => None,
    };
    for _ in 0..MAX_COMMIT_ATTEMPTS {
        let seq = prev.as_ref().map_or(1, |e| e.seq + 1);
        let prev_sha = prev.as_ref().map(|e| e.sha256.clone());
        let bundle = sign_statement(key, &report_statement(&record, &lake_id, seq, prev_sha.as_deref()))?;
        let entry = ReportEntry {
            format: REPORT_ENTRY_FORMAT.to_string(),
            lake_id: lake_id.clone(),
            seq,
            prev_entry_sha256: prev_sha,
            report: record.clone(),
            bundle,
        };
        let body = serde_json::to_vec_pretty(&entry).expect("serializable");
        let path = report_entry(seq);
        match lake.store().put_opts(&path, PutPayload::from(body), PutMode::Create.into()).await {
            Ok(_) => return Ok(CommittedReport { seq, entry_path: path, record }),
            Err(object_store::Error::AlreadyExists { .. }) => prev = get_entry(lake, seq).await?,
            Err(e) => return Err(e.into()),
        }
    }
    Err(LakeError::Contention { cluster: REPORT_LOG_PREFIX.into(), attempts: MAX_COMMIT_ATTEMPTS })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        let d = NaiveDate::from_ymd_opt(2026, 3, 9).unwrap();
        assert_eq!(report_file(d, "r1", "report.pdf").to_string(), "reports/files/date=2026-03-09/r1/report.pdf");
        assert_eq!(report_entry(3).to_string(), "reports/log/00000000000000000003.json");
        assert_eq!(parse_entry_key("reports/log/00000000000000000003.json"), Some(3));
        assert_eq!(parse_entry_key("reports/log/3.json"), None);
    }
}
