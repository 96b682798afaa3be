//! Checks on the report log (`reports/log/`) and the report files it commits.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use object_store::path::Path;
use tarn_trust::bundle::verify_bundle;
use tarn_trust::keys::PublicKey;

use super::objects::ObjectCheck;
use super::{Problem, ProblemKind, VerifyOptions, VerifyReport, WitnessHead};
use crate::error::Result;
use crate::reports::{self, REPORT_FILES_PREFIX, REPORT_LOG_PREFIX, RawReportEntry};
use crate::store::Lake;

fn p(kind: ProblemKind, object: impl ToString, detail: String) -> Problem {
    Problem { kind, cluster: None, object: object.to_string(), detail }
}

/// Checks the report log; returns the files to hash.
pub(super) async fn check(
    lake: &Lake,
    lake_id: &str,
    keys: &[PublicKey],
    opts: &VerifyOptions,
    listed: &[object_store::ObjectMeta],
    started: DateTime<Utc>,
    report: &mut VerifyReport,
) -> Result<Vec<ObjectCheck>> {
    let (seqs, foreign) = reports::list_entries(lake).await?;
    for f in foreign {
        report.problems.push(p(ProblemKind::UnexpectedObject, f, "not a report log entry".into()));
    }
    let mut raws: Vec<RawReportEntry> = Vec::with_capacity(seqs.len());
    for s in &seqs {
        if let Some(r) = reports::get_entry(lake, *s).await? {
            raws.push(r);
        }
    }
    report.reports = raws.len() as u64;
    let mut to_hash = Vec::new();
    let mut referenced: HashSet<String> = HashSet::new();
    let mut seen_ids: HashSet<String> = HashSet::new();
    let mut expected = 1u64;
    let mut prev_sha: Option<String> = None;
    for raw in &raws {
        let path = &raw.path;
        if raw.seq != expected {
            report.problems.push(p(
                ProblemKind::MissingEntry,
                reports::report_entry(expected),
                format!("report log entries {expected}..{} are missing (deleted report?)", raw.seq),
            ));
            prev_sha = None;
        }
        let link_known = raw.seq == 1 || prev_sha.is_some();
        let prev = prev_sha.replace(raw.sha256.clone());
        expected = raw.seq + 1;
        let entry = match raw.parse() {
            Ok(e) => e,
            Err(e) => {
                report.problems.push(p(ProblemKind::CorruptEntry, path, e.to_string()));
                continue;
            }
        };
        let mut push = |kind, detail: String| report.problems.push(p(kind, path, detail));
        if serde_json::to_vec_pretty(&entry).is_ok_and(|b| b != raw.bytes.as_ref()) {
            push(ProblemKind::CorruptEntry, "entry bytes are not in canonical form (edited after writing?)".into());
        }
        if entry.seq != raw.seq || entry.lake_id != lake_id {
            push(
                ProblemKind::MisplacedEntry,
                format!(
                    "entry claims lake {} seq {} but is stored in lake {lake_id} seq {} (re-ordered or replayed)",
                    entry.lake_id, entry.seq, raw.seq
                ),
            );
        }
        if link_known && entry.prev_entry_sha256 != prev {
            push(
                ProblemKind::BrokenChain,
                format!(
                    "entry commits predecessor {} but the previous entry is {}",
                    entry.prev_entry_sha256.as_deref().unwrap_or("(none)"),
                    prev.as_deref().unwrap_or("(none)")
                ),
            );
        }
        match verify_bundle(&entry.bundle, keys) {
            Err(e) => push(ProblemKind::BadSignature, e.to_string()),
            Ok(v) => {
                let want = reports::report_statement(
                    &entry.report,
                    &entry.lake_id,
                    entry.seq,
                    entry.prev_entry_sha256.as_deref(),
                );
                if v.statement != want {
                    let what = if v.statement.subject != want.subject { "file digests" } else { "report record" };
                    push(ProblemKind::SignedContentMismatch, format!("the entry's {what} differ from what was signed"));
                }
                let vm = &entry.bundle.verification_material;
                if vm.public_key.as_ref().is_none_or(|k| k.hint != v.key_id) || !vm.tlog_entries.is_empty() {
                    push(
                        ProblemKind::SignedContentMismatch,
                        "unsigned bundle fields (key hint, transparency-log entries) were altered".into(),
                    );
                }
            }
        }
        if !seen_ids.insert(entry.report.report_id.clone()) {
            push(ProblemKind::Replayed, format!("report {} is committed more than once", entry.report.report_id));
        }
        let date = entry.report.generated_at.date_naive();
        for f in &entry.report.files {
            let expected_path = reports::report_file(date, &entry.report.report_id, &f.name);
            if expected_path.as_ref() != f.path {
                push(ProblemKind::MisplacedEntry, format!("report file {} belongs at {expected_path}", f.path));
            }
            referenced.insert(f.path.clone());
            to_hash.push(ObjectCheck {
                cluster: None,
                path: Path::from(f.path.as_str()),
                size: f.size,
                sha256: f.sha256.clone(),
            });
        }
    }
    if let Some(last) = raws.last() {
        report.witness.reports = Some(WitnessHead { seq: last.seq, entry_sha256: last.sha256.clone() });
    }
    if let Some(seen) = opts.witness.as_ref().and_then(|w| w.reports.as_ref()) {
        match raws.iter().find(|r| r.seq == seen.seq) {
            Some(r) if r.sha256 == seen.entry_sha256 => {}
            Some(r) => report.problems.push(p(
                ProblemKind::RolledBack,
                &r.path,
                format!(
                    "report entry {} is {} but the witness saw {} (log rewritten)",
                    seen.seq, r.sha256, seen.entry_sha256
                ),
            )),
            None => report.problems.push(p(
                ProblemKind::RolledBack,
                reports::report_entry(seen.seq),
                format!(
                    "the witness saw report entry {} but the report log has {} entries (rolled back)",
                    seen.seq,
                    raws.len()
                ),
            )),
        }
    }
    // Report files no entry commits: a crashed or in-progress generation, or an insertion.
    let grace = opts.in_flight_grace;
    for meta in listed {
        let key = meta.location.as_ref();
        if key.starts_with(REPORT_LOG_PREFIX) {
            continue;
        }
        if !key.starts_with(REPORT_FILES_PREFIX) {
            report.problems.push(p(ProblemKind::UnexpectedObject, key, "not a report file or report log entry".into()));
            continue;
        }
        if referenced.contains(key) {
            continue;
        }
        // Committed while we verified?
        let mut late = false;
        let mut seq = raws.last().map_or(1, |r| r.seq + 1);
        while let Some(raw) = reports::get_entry(lake, seq).await? {
            late |= raw.parse().is_ok_and(|e| e.report.files.iter().any(|f| f.path == key));
            seq += 1;
        }
        if late {
            continue;
        }
        if meta.last_modified > started - grace {
            report.in_flight.push(key.to_string());
        } else {
            report.problems.push(p(
                ProblemKind::Unreferenced,
                key,
                "no report log entry commits this file (inserted, or left by a crashed report run)".into(),
            ));
        }
    }
    Ok(to_hash)
}
