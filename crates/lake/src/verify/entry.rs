//! Checks on the entries of one cluster log.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use object_store::path::Path;
use tarn_model::ClusterName;
use tarn_trust::bundle::verify_bundle;
use tarn_trust::keys::PublicKey;

use super::objects::ObjectCheck;
use super::{Problem, ProblemKind, problem};
use crate::log::{self, LogEntry, RawEntry};
use crate::paths::{self, EvaluationPath};

/// Findings accumulated across clusters.
pub(super) struct State<'a> {
    lake_id: &'a str,
    keys: &'a [PublicKey],
    pub referenced: HashSet<String>,
    seen_ids: HashMap<String, String>,
    seen_objects: HashMap<String, String>,
    pub to_hash: Vec<ObjectCheck>,
    pub problems: Vec<Problem>,
}

impl<'a> State<'a> {
    pub fn new(lake_id: &'a str, keys: &'a [PublicKey]) -> Self {
        Self {
            lake_id,
            keys,
            referenced: HashSet::new(),
            seen_ids: HashMap::new(),
            seen_objects: HashMap::new(),
            to_hash: Vec::new(),
            problems: Vec::new(),
        }
    }

    /// Walks a log in sequence order: gaps, chain links, then each entry.
    pub fn check_chain(
        &mut self,
        cluster: &ClusterName,
        raws: &[RawEntry],
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) {
        let mut expected_seq = 1u64;
        let mut prev_sha: Option<&str> = None;
        for raw in raws {
            if raw.seq != expected_seq {
                let missing = if raw.seq == expected_seq + 1 {
                    format!("entry {expected_seq} is missing")
                } else {
                    format!("entries {expected_seq}..={} are missing", raw.seq - 1)
                };
                self.problems.push(problem(
                    ProblemKind::MissingEntry,
                    cluster,
                    &paths::log_entry(cluster, expected_seq),
                    format!("{missing} (deleted snapshot?); the chain is broken before {}", raw.path),
                ));
                prev_sha = None;
            }
            expected_seq = raw.seq + 1;
            let link = if raw.seq == 1 { Link::First } else { prev_sha.map_or(Link::Unknown, Link::Prev) };
            prev_sha = Some(&raw.sha256);
            match raw.parse() {
                Ok(entry) => self.check_entry(cluster, raw, &entry, link, from, to),
                Err(e) => self.problems.push(problem(ProblemKind::CorruptEntry, cluster, &raw.path, e.to_string())),
            }
        }
    }

    pub(super) fn check_entry(
        &mut self,
        cluster: &ClusterName,
        raw: &RawEntry,
        entry: &LogEntry,
        link: Link<'_>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) {
        let path = &raw.path;
        let mut push = |kind, detail: String| self.problems.push(problem(kind, cluster, path, detail));
        // Canonical form: the bytes must be exactly what a writer serialises for the parsed
        // entry, so nothing unsigned can be added, dropped or re-encoded without notice.
        if serde_json::to_vec_pretty(entry).is_ok_and(|b| b != raw.bytes.as_ref()) {
            push(ProblemKind::CorruptEntry, "entry bytes are not in canonical form (edited after writing?)".into());
        }
        let pos = &entry.position;
        if pos.seq != raw.seq || &pos.cluster != cluster || pos.lake_id != self.lake_id {
            push(
                ProblemKind::MisplacedEntry,
                format!(
                    "entry claims lake {} cluster {} seq {} but is stored in lake {} cluster {cluster} seq {} (re-ordered or replayed)",
                    pos.lake_id, pos.cluster, pos.seq, self.lake_id, raw.seq
                ),
            );
        }
        match link {
            Link::First if pos.prev_entry_sha256.is_some() => {
                push(ProblemKind::BrokenChain, "first entry names a predecessor (log truncated at the front?)".into())
            }
            Link::Prev(prev) if pos.prev_entry_sha256.as_deref() != Some(prev) => push(
                ProblemKind::BrokenChain,
                format!(
                    "entry commits predecessor {} but entry {} is {prev}",
                    pos.prev_entry_sha256.as_deref().unwrap_or("(none)"),
                    raw.seq - 1
                ),
            ),
            _ => {}
        }
        let rec = &entry.snapshot;
        if &rec.cluster != cluster {
            push(
                ProblemKind::MisplacedEntry,
                format!("snapshot of cluster {} is in the log of {cluster}", rec.cluster),
            );
        }
        let expected_path = EvaluationPath {
            cluster: rec.cluster.clone(),
            date: rec.observed_at.date_naive(),
            snapshot_id: rec.snapshot_id,
        }
        .to_path();
        if expected_path.as_ref() != rec.object_path {
            push(
                ProblemKind::MisplacedEntry,
                format!("record names object {} but its snapshot belongs at {expected_path}", rec.object_path),
            );
        }
        match verify_bundle(&entry.bundle, self.keys) {
            Err(e) => push(ProblemKind::BadSignature, e.to_string()),
            Ok(v) => {
                let expected = log::snapshot_statement(rec, pos);
                if v.statement != expected {
                    let what = if v.statement.subject != expected.subject {
                        "object digest"
                    } else if v.statement.predicate.get("snapshot") != expected.predicate.get("snapshot") {
                        "snapshot record"
                    } else if v.statement.predicate.get("log") != expected.predicate.get("log") {
                        "log position"
                    } else {
                        "attestation summary"
                    };
                    push(
                        ProblemKind::SignedContentMismatch,
                        format!("the entry's {what} differs from what was signed"),
                    );
                }
                // The only unsigned bundle fields must say nothing beyond "this key signed".
                let vm = &entry.bundle.verification_material;
                let hint_ok = vm.public_key.as_ref().is_some_and(|k| k.hint == v.key_id);
                let keyids_ok = entry
                    .bundle
                    .dsse_envelope
                    .iter()
                    .flat_map(|e| &e.signatures)
                    .all(|s| s.keyid.is_empty() || s.keyid == v.key_id);
                if !hint_ok || !keyids_ok || !vm.tlog_entries.is_empty() {
                    push(
                        ProblemKind::SignedContentMismatch,
                        "unsigned bundle fields (key hint, key id, transparency-log entries) were altered".into(),
                    );
                }
            }
        }

        let id = rec.snapshot_id.to_string();
        if let Some(first) = self.seen_ids.insert(id.clone(), path.to_string()) {
            push(ProblemKind::Replayed, format!("snapshot {id} was already committed by {first}"));
        }
        if let Some(first) = self.seen_objects.insert(rec.object_sha256.clone(), path.to_string()) {
            push(
                ProblemKind::Replayed,
                format!("object bytes {} were already committed by {first}", rec.object_sha256),
            );
        }
        self.referenced.insert(rec.object_path.clone());
        if from.is_none_or(|f| rec.observed_at >= f) && to.is_none_or(|t| rec.observed_at <= t) {
            self.to_hash.push(ObjectCheck {
                cluster: Some(cluster.to_string()),
                path: Path::from(rec.object_path.as_str()),
                size: rec.object_size,
                sha256: rec.object_sha256.clone(),
            });
        }
    }
}

/// What an entry's predecessor link is checked against.
#[derive(Debug, Clone, Copy)]
pub(super) enum Link<'a> {
    /// Entry 1: there is no predecessor.
    First,
    /// The predecessor's digest.
    Prev(&'a str),
    /// The predecessor is missing (already reported).
    Unknown,
}
