//! Offline verification of a lake: every digest, signature and chain link.
//!
//! What is checked, per cluster log:
//! - entries are numbered 1..=n without gaps, each stored at the position it claims;
//! - each entry commits the SHA-256 of its predecessor (hash chain);
//! - each bundle verifies with a trusted key, and the signed statement covers exactly the
//!   entry's snapshot record, log position and object digest;
//! - each referenced Parquet object exists, at the path its record implies, with the recorded
//!   size and SHA-256 (hashed while streaming);
//! - no snapshot id or object is committed twice (replay);
//! - against a witness file (heads seen by an earlier verification) the log was not rolled
//!   back or rewritten.
//!
//! Across the lake: every object under `evaluations/` is referenced by some log entry.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStoreExt;
use object_store::path::Path;
use serde::{Deserialize, Serialize};
use tarn_model::ClusterName;
use tarn_trust::StreamingSha256;
use tarn_trust::bundle::verify_bundle;
use tarn_trust::keys::PublicKey;

use crate::error::Result;
use crate::log::{self, LogEntry, SnapshotPredicate};
use crate::paths::{self, EvaluationPath};
use crate::store::Lake;

/// What is wrong with an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// A log entry that cannot be parsed.
    CorruptEntry,
    /// A sequence number is missing from a log.
    MissingEntry,
    /// An entry sits at a position other than the one it claims (re-ordered or replayed).
    MisplacedEntry,
    /// An entry does not commit its predecessor's digest.
    BrokenChain,
    /// The signature does not verify with any trusted key.
    BadSignature,
    /// The signed statement does not match the entry it is stored in.
    SignedContentMismatch,
    /// A referenced object is missing.
    MissingObject,
    /// An object's bytes do not match the recorded size or SHA-256.
    DigestMismatch,
    /// A snapshot id or object is committed more than once.
    Replayed,
    /// An object no log entry references.
    Unreferenced,
    /// An object that has no business in that place.
    UnexpectedObject,
    /// The log is behind, or differs from, what the witness saw.
    RolledBack,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub kind: ProblemKind,
    pub cluster: Option<String>,
    /// The object key the problem is about.
    pub object: String,
    pub detail: String,
}

/// The newest entry of each cluster's log an auditor has seen verified.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Witness {
    pub heads: BTreeMap<String, WitnessHead>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WitnessHead {
    pub seq: u64,
    pub entry_sha256: String,
}

#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Trusted keys. Empty: use the keys stored in the lake (not an independent anchor).
    pub keys: Vec<PublicKey>,
    pub clusters: Option<Vec<ClusterName>>,
    /// Only hash objects of snapshots observed in this range (logs are always checked whole).
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub witness: Option<Witness>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    pub lake: String,
    /// `"provided"` when keys were given, `"lake"` when the lake's own keys were used.
    pub trust_anchor: String,
    pub key_ids: Vec<String>,
    pub clusters: usize,
    pub entries: u64,
    pub objects_hashed: u64,
    pub bytes_hashed: u64,
    pub problems: Vec<Problem>,
    /// Heads of the logs as verified; save them as the next witness.
    pub witness: Witness,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

struct ObjectCheck {
    cluster: String,
    path: String,
    size: u64,
    sha256: String,
}

/// Verifies the lake. Problems are collected, not returned as errors; `Err` means the lake could
/// not be read at all.
pub async fn verify(lake: &Lake, opts: &VerifyOptions) -> Result<VerifyReport> {
    let mut report = VerifyReport { lake: lake.url().to_string(), ..Default::default() };
    let keys = if opts.keys.is_empty() {
        report.trust_anchor = "lake".into();
        lake_keys(lake, &mut report).await?
    } else {
        report.trust_anchor = "provided".into();
        opts.keys.clone()
    };
    report.key_ids = keys.iter().map(PublicKey::key_id).collect();

    let all_clusters = log::list_clusters(lake).await?;
    let selected: Vec<ClusterName> =
        all_clusters.iter().filter(|c| opts.clusters.as_ref().is_none_or(|want| want.contains(c))).cloned().collect();
    report.clusters = selected.len();

    let mut referenced: HashSet<String> = HashSet::new();
    let mut seen_ids: HashMap<String, String> = HashMap::new();
    let mut seen_objects: HashMap<String, String> = HashMap::new();
    let mut to_hash: Vec<ObjectCheck> = Vec::new();

    if let Some(w) = &opts.witness {
        for name in w.heads.keys() {
            let known = all_clusters.iter().any(|c| c.as_str() == name);
            let wanted = opts.clusters.as_ref().is_none_or(|want| want.iter().any(|c| c.as_str() == name));
            if !known && wanted {
                report.problems.push(Problem {
                    kind: ProblemKind::RolledBack,
                    cluster: Some(name.clone()),
                    object: format!("{}/cluster={name}/", paths::LOG_PREFIX),
                    detail: "the witness saw this cluster's log, but it is gone".into(),
                });
            }
        }
    }

    for cluster in &selected {
        // Read the head hint before listing: writers update it only after committing, so a
        // hint beyond the listed tail means entries were removed.
        let hinted = log::head_hint(lake, cluster).await?;
        let (seqs, foreign) = log::list_entries(lake, cluster).await?;
        let tail = seqs.last().copied().unwrap_or(0);
        if let Some(h) = hinted.filter(|h| *h > tail) {
            report.problems.push(problem(
                ProblemKind::RolledBack,
                cluster,
                &paths::log_entry(cluster, h),
                format!(
                    "the head hint records entry {h} but the log ends at {tail} (entries removed: log rolled back?)"
                ),
            ));
        }
        for p in foreign {
            report.problems.push(problem(ProblemKind::UnexpectedObject, cluster, &p, "not a log entry".into()));
        }
        let raws = log::read_entries(lake, cluster, &seqs).await?;
        report.entries += raws.len() as u64;
        let mut expected_seq = 1u64;
        let mut prev_sha: Option<String> = None;
        for raw in &raws {
            let path = raw.path.clone();
            if raw.seq != expected_seq {
                let missing = if raw.seq == expected_seq + 1 {
                    format!("entry {expected_seq} is missing")
                } else {
                    format!("entries {expected_seq}..={} are missing", raw.seq - 1)
                };
                report.problems.push(problem(
                    ProblemKind::MissingEntry,
                    cluster,
                    &paths::log_entry(cluster, expected_seq),
                    format!("{missing} (deleted snapshot?); the chain is broken before {path}"),
                ));
                prev_sha = None;
            }
            expected_seq = raw.seq + 1;
            let entry = match raw.parse() {
                Ok(e) => e,
                Err(e) => {
                    report.problems.push(problem(ProblemKind::CorruptEntry, cluster, &path, e.to_string()));
                    prev_sha = Some(raw.sha256.clone());
                    continue;
                }
            };
            check_entry(&entry, raw.seq, cluster, prev_sha.as_deref(), raw.seq == 1, &path, &keys, &mut report);
            prev_sha = Some(raw.sha256.clone());

            let rec = &entry.snapshot;
            let id = rec.snapshot_id.to_string();
            if let Some(first) = seen_ids.insert(id.clone(), path.to_string()) {
                report.problems.push(problem(
                    ProblemKind::Replayed,
                    cluster,
                    &path,
                    format!("snapshot {id} was already committed by {first}"),
                ));
            }
            if let Some(first) = seen_objects.insert(rec.object_sha256.clone(), path.to_string()) {
                report.problems.push(problem(
                    ProblemKind::Replayed,
                    cluster,
                    &path,
                    format!("object bytes {} were already committed by {first}", rec.object_sha256),
                ));
            }
            referenced.insert(rec.object_path.clone());
            let in_range =
                opts.from.is_none_or(|f| rec.observed_at >= f) && opts.to.is_none_or(|t| rec.observed_at <= t);
            if in_range {
                to_hash.push(ObjectCheck {
                    cluster: cluster.to_string(),
                    path: rec.object_path.clone(),
                    size: rec.object_size,
                    sha256: rec.object_sha256.clone(),
                });
            }
        }
        if let Some(last) = raws.last() {
            report
                .witness
                .heads
                .insert(cluster.to_string(), WitnessHead { seq: last.seq, entry_sha256: last.sha256.clone() });
        }
        if let Some(seen) = opts.witness.as_ref().and_then(|w| w.heads.get(cluster.as_str())) {
            match raws.iter().find(|r| r.seq == seen.seq) {
                Some(r) if r.sha256 == seen.entry_sha256 => {}
                Some(r) => report.problems.push(problem(
                    ProblemKind::RolledBack,
                    cluster,
                    &r.path,
                    format!(
                        "entry {} is {} but the witness saw {} (log rewritten)",
                        seen.seq, r.sha256, seen.entry_sha256
                    ),
                )),
                None => report.problems.push(problem(
                    ProblemKind::RolledBack,
                    cluster,
                    &paths::log_entry(cluster, seen.seq),
                    format!(
                        "the witness saw entry {} but the log ends at {} (log rolled back)",
                        seen.seq,
                        raws.last().map_or(0, |r| r.seq)
                    ),
                )),
            }
        }
    }

    hash_objects(lake, to_hash, &mut report).await;
    check_unreferenced(lake, opts, &referenced, &mut report).await?;
    report.problems.sort_by(|a, b| (&a.cluster, &a.object, a.kind).cmp(&(&b.cluster, &b.object, b.kind)));
    Ok(report)
}

fn problem(kind: ProblemKind, cluster: &ClusterName, object: &Path, detail: String) -> Problem {
    Problem { kind, cluster: Some(cluster.to_string()), object: object.to_string(), detail }
}

#[allow(clippy::too_many_arguments)]
fn check_entry(
    entry: &LogEntry,
    stored_seq: u64,
    cluster: &ClusterName,
    prev_sha: Option<&str>,
    is_first: bool,
    path: &Path,
    keys: &[PublicKey],
    report: &mut VerifyReport,
) {
    let mut push = |kind, detail: String| report.problems.push(problem(kind, cluster, path, detail));
    let pos = &entry.position;
    if pos.seq != stored_seq || &pos.cluster != cluster {
        push(
            ProblemKind::MisplacedEntry,
            format!(
                "entry claims cluster {} seq {} but is stored as cluster {cluster} seq {stored_seq} (re-ordered or replayed)",
                pos.cluster, pos.seq
            ),
        );
    }
    if is_first {
        if pos.prev_entry_sha256.is_some() {
            push(ProblemKind::BrokenChain, "first entry names a predecessor (log truncated at the front?)".into());
        }
    } else if let Some(prev) = prev_sha
        && pos.prev_entry_sha256.as_deref() != Some(prev)
    {
        push(
            ProblemKind::BrokenChain,
            format!(
                "entry commits predecessor {} but entry {} is {prev}",
                pos.prev_entry_sha256.as_deref().unwrap_or("(none)"),
                stored_seq - 1
            ),
        );
    }
    let rec = &entry.snapshot;
    if &rec.cluster != cluster {
        push(ProblemKind::MisplacedEntry, format!("snapshot of cluster {} is in the log of {cluster}", rec.cluster));
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
    match verify_bundle(&entry.bundle, keys) {
        Err(e) => push(ProblemKind::BadSignature, e.to_string()),
        Ok(v) => {
            let st = &v.statement;
            let hex = rec.object_sha256.strip_prefix("sha256:").unwrap_or(&rec.object_sha256);
            let subject_ok = st.has_sha256_subject(hex) && st.subject.iter().any(|s| s.name == rec.object_path);
            if st.predicate_type != log::SNAPSHOT_PREDICATE_TYPE || !subject_ok {
                push(
                    ProblemKind::SignedContentMismatch,
                    format!("signed statement is not about object {} {}", rec.object_path, rec.object_sha256),
                );
            }
            match serde_json::from_value::<SnapshotPredicate>(st.predicate.clone()) {
                Ok(p) if &p.snapshot == rec && &p.log == pos => {}
                Ok(p) => {
                    let what = if &p.snapshot != rec { "snapshot record" } else { "log position" };
                    push(
                        ProblemKind::SignedContentMismatch,
                        format!("the entry's {what} differs from what was signed"),
                    );
                }
                Err(e) => push(ProblemKind::SignedContentMismatch, format!("signed predicate is malformed: {e}")),
            }
        }
    }
}

async fn hash_objects(lake: &Lake, checks: Vec<ObjectCheck>, report: &mut VerifyReport) {
    let store = lake.store().clone();
    type Hashed = std::result::Result<(u64, String), object_store::Error>;
    let results: Vec<(ObjectCheck, Hashed)> = futures::stream::iter(checks)
        .map(|c| {
            let store = store.clone();
            async move {
                let r = async {
                    let mut stream = store.get(&Path::from(c.path.as_str())).await?.into_stream();
                    let mut h = StreamingSha256::new();
                    let mut n = 0u64;
                    while let Some(chunk) = stream.try_next().await? {
                        h.update(&chunk);
                        n += chunk.len() as u64;
                    }
                    Ok((n, format!("sha256:{}", h.finish_hex())))
                }
                .await;
                (c, r)
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    for (c, r) in results {
        let p = |kind, detail| Problem { kind, cluster: Some(c.cluster.clone()), object: c.path.clone(), detail };
        match r {
            Ok((size, sha)) => {
                report.objects_hashed += 1;
                report.bytes_hashed += size;
                if sha != c.sha256 || size != c.size {
                    report.problems.push(p(
                        ProblemKind::DigestMismatch,
                        format!("object is {size} bytes {sha}; the signed record says {} bytes {}", c.size, c.sha256),
                    ));
                }
            }
            Err(object_store::Error::NotFound { .. }) => {
                report.problems.push(p(ProblemKind::MissingObject, "committed object is missing (deleted?)".into()));
            }
            Err(e) => report.problems.push(p(ProblemKind::MissingObject, format!("cannot read object: {e}"))),
        }
    }
}

async fn check_unreferenced(
    lake: &Lake,
    opts: &VerifyOptions,
    referenced: &HashSet<String>,
    report: &mut VerifyReport,
) -> Result<()> {
    let mut stream = lake.store().list(Some(&Path::from(paths::EVALUATIONS_PREFIX)));
    while let Some(meta) = stream.try_next().await? {
        let key = meta.location.to_string();
        match EvaluationPath::parse(&key) {
            Some(ep) => {
                if opts.clusters.as_ref().is_some_and(|want| !want.contains(&ep.cluster)) {
                    continue;
                }
                if !referenced.contains(&key) {
                    report.problems.push(Problem {
                        kind: ProblemKind::Unreferenced,
                        cluster: Some(ep.cluster.to_string()),
                        object: key,
                        detail: "no log entry references this object (inserted, log rolled back, or left by an interrupted write)".into(),
                    });
                }
            }
            None => report.problems.push(Problem {
                kind: ProblemKind::UnexpectedObject,
                cluster: None,
                object: key,
                detail: "not an evaluation object key (evaluations/cluster=<c>/date=<YYYY-MM-DD>/<id>.parquet)".into(),
            }),
        }
    }
    Ok(())
}

async fn lake_keys(lake: &Lake, report: &mut VerifyReport) -> Result<Vec<PublicKey>> {
    let metas: Vec<_> = lake.store().list(Some(&Path::from(paths::KEYS_PREFIX))).try_collect().await?;
    let mut keys = Vec::new();
    for m in metas {
        let bytes = lake.store().get(&m.location).await?.bytes().await?;
        match std::str::from_utf8(&bytes)
            .map_err(|e| e.to_string())
            .and_then(|s| PublicKey::from_pem(s).map_err(|e| e.to_string()))
        {
            Ok(k) => keys.push(k),
            Err(e) => report.problems.push(Problem {
                kind: ProblemKind::UnexpectedObject,
                cluster: None,
                object: m.location.to_string(),
                detail: format!("unreadable public key: {e}"),
            }),
        }
    }
    Ok(keys)
}
