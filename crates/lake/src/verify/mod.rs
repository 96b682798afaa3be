//! Offline verification of a lake: every digest, signature and chain link.
//!
//! What is checked, per cluster log:
//! - entries are numbered 1..=n without gaps, each stored at the position (lake, cluster, seq)
//!   it claims, in canonical form (nothing added or re-encoded);
//! - each entry commits the SHA-256 of its predecessor (hash chain);
//! - each bundle verifies with a trusted key, carries nothing unsigned besides that key's id,
//!   and its signed statement is exactly the one a writer produces for the entry's record and
//!   position (so the object digest, the record and the chain are all covered);
//! - each referenced Parquet object exists, at the path its record implies, with the recorded
//!   size and SHA-256 (hashed while streaming);
//! - no snapshot id or object is committed twice (replay);
//! - the head hint is readable and not beyond the tail; against a witness file (heads seen by
//!   an earlier verification) the log was not rolled back or rewritten.
//!
//! Across the lake: every object under `evaluations/` is referenced by some log entry; objects
//! written in the last minutes whose entry is not there yet are reported as in flight.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path;
use serde::{Deserialize, Serialize};
use tarn_model::ClusterName;
use tarn_trust::keys::PublicKey;

use crate::error::Result;
use crate::log::{self, HeadHintState, RawEntry};
use crate::paths::{self, EvaluationPath};
use crate::store::Lake;

mod derived;
mod entry;
mod objects;
mod reports;

/// What is wrong with an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// A log entry that cannot be parsed, or whose bytes are not in canonical form.
    CorruptEntry,
    /// A sequence number is missing from a log.
    MissingEntry,
    /// A cluster that was asked for (or seen by the witness) has no log.
    MissingLog,
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
    /// The log is behind, or differs from, what the witness or head hint saw.
    RolledBack,
    /// The catalog (checkpoint parts or rollups) says something other than the logs.
    CatalogMismatch,
    /// A compacted object does not hold exactly what its compaction record and sources say.
    CompactionMismatch,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub kind: ProblemKind,
    pub cluster: Option<String>,
    /// The object key the problem is about.
    pub object: String,
    pub detail: String,
}

/// What an auditor has seen verified: the lake's id and the newest entry of each cluster log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Witness {
    #[serde(default)]
    pub lake_id: Option<String>,
    pub heads: BTreeMap<String, WitnessHead>,
    /// The newest entry of the report log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reports: Option<WitnessHead>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WitnessHead {
    pub seq: u64,
    pub entry_sha256: String,
}

#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Trusted keys. Empty: use the keys stored in the lake, which anyone able to write the
    /// lake can replace (callers must make that an explicit choice).
    pub keys: Vec<PublicKey>,
    pub clusters: Option<Vec<ClusterName>>,
    /// Only hash objects of snapshots observed in this range (logs are always checked whole).
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub witness: Option<Witness>,
    /// An unreferenced object younger than this (by its snapshot id and its store timestamp)
    /// counts as a write in progress, reported in `in_flight`, not as a problem.
    pub in_flight_grace: chrono::Duration,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self {
            keys: Vec::new(),
            clusters: None,
            from: None,
            to: None,
            witness: None,
            in_flight_grace: chrono::Duration::minutes(10),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    pub lake: String,
    pub lake_id: String,
    /// `"provided"` when keys were given, `"lake"` when the lake's own keys were used.
    pub trust_anchor: String,
    pub key_ids: Vec<String>,
    pub clusters: usize,
    pub entries: u64,
    /// Entries of the report log (each a signed, committed compliance report).
    pub reports: u64,
    pub objects_hashed: u64,
    pub bytes_hashed: u64,
    pub problems: Vec<Problem>,
    /// Objects written moments ago whose log entry did not exist yet: not problems, but not
    /// verified either.
    pub in_flight: Vec<String>,
    /// The lake id and log heads as verified; save them as the next witness.
    pub witness: Witness,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

pub(crate) fn problem(kind: ProblemKind, cluster: &ClusterName, object: &Path, detail: String) -> Problem {
    Problem { kind, cluster: Some(cluster.to_string()), object: object.to_string(), detail }
}

/// Verifies the lake. Problems are collected, not returned as errors; `Err` means the lake
/// could not be read at all (or is not a lake).
pub async fn verify(lake: &Lake, opts: &VerifyOptions) -> Result<VerifyReport> {
    let started = Utc::now();
    let descriptor = lake.require_descriptor().await?;
    let mut report =
        VerifyReport { lake: lake.url().to_string(), lake_id: descriptor.lake_id.clone(), ..Default::default() };
    report.witness.lake_id = Some(descriptor.lake_id.clone());
    let keys = if opts.keys.is_empty() {
        report.trust_anchor = "lake".into();
        lake_keys(lake, &mut report).await?
    } else {
        report.trust_anchor = "provided".into();
        opts.keys.clone()
    };
    report.key_ids = keys.iter().map(PublicKey::key_id).collect();

    // List objects before reading logs: an object written after this listing cannot be
    // mistaken for an orphan.
    let objects: Vec<object_store::ObjectMeta> =
        lake.store().list(Some(&Path::from(paths::EVALUATIONS_PREFIX))).try_collect().await?;
    let report_objects: Vec<object_store::ObjectMeta> =
        lake.store().list(Some(&Path::from(crate::reports::REPORTS_PREFIX))).try_collect().await?;

    let all_clusters = log::list_clusters(lake).await?;
    let wanted = |name: &str| opts.clusters.as_ref().is_none_or(|want| want.iter().any(|c| c.as_str() == name));
    let selected: Vec<ClusterName> = all_clusters.iter().filter(|c| wanted(c.as_str())).cloned().collect();
    report.clusters = selected.len();
    for c in opts.clusters.iter().flatten().filter(|c| !all_clusters.contains(c)) {
        report.problems.push(problem(
            ProblemKind::MissingLog,
            c,
            &paths::log_dir(c),
            "no log for this cluster (misspelled, never scanned, or deleted)".into(),
        ));
    }
    if let Some(w) = &opts.witness {
        if let Some(id) = w.lake_id.as_ref().filter(|id| **id != descriptor.lake_id) {
            report.problems.push(Problem {
                kind: ProblemKind::RolledBack,
                cluster: None,
                object: paths::LAKE_DESCRIPTOR.into(),
                detail: format!("the witness saw lake {id}, this is lake {} (replaced lake?)", descriptor.lake_id),
            });
        }
        for name in w.heads.keys().filter(|n| wanted(n) && !all_clusters.iter().any(|c| c.as_str() == n.as_str())) {
            report.problems.push(Problem {
                kind: ProblemKind::MissingLog,
                cluster: Some(name.clone()),
                object: format!("{}/cluster={name}/", paths::LOG_PREFIX),
                detail: "the witness saw this cluster's log, but it is gone".into(),
            });
        }
    }

    let mut state = entry::State::new(&descriptor.lake_id, &keys);
    let mut tails: HashMap<ClusterName, u64> = HashMap::new();
    let mut logs: BTreeMap<ClusterName, Vec<RawEntry>> = BTreeMap::new();
    for cluster in &selected {
        let raws = check_log(lake, cluster, opts, &mut state, &mut report).await?;
        tails.insert(cluster.clone(), raws.last().map_or(0, |r| r.seq));
        logs.insert(cluster.clone(), raws);
    }
    report.problems.append(&mut state.problems);
    let mut to_hash = state.to_hash;
    if opts.clusters.is_none() {
        to_hash.extend(
            reports::check(lake, &descriptor.lake_id, &keys, opts, &report_objects, started, &mut report).await?,
        );
    }
    objects::hash_objects(lake, to_hash, &mut report).await;
    check_unreferenced(lake, opts, objects, &mut state.referenced, &tails, started, &mut report).await?;
    derived::check(lake, &logs, &mut report).await?;
    report.problems.sort_by(|a, b| (&a.cluster, &a.object, a.kind).cmp(&(&b.cluster, &b.object, b.kind)));
    Ok(report)
}

/// Checks one cluster's log; returns its entries.
async fn check_log(
    lake: &Lake,
    cluster: &ClusterName,
    opts: &VerifyOptions,
    state: &mut entry::State<'_>,
    report: &mut VerifyReport,
) -> Result<Vec<RawEntry>> {
    // Read the head hint before listing: writers update it only after committing, so a hint
    // beyond the listed tail means entries were removed.
    let hint = log::head_hint(lake, cluster).await?;
    let (seqs, foreign) = log::list_entries(lake, cluster).await?;
    let tail = seqs.last().copied().unwrap_or(0);
    match hint {
        HeadHintState::Seq(h) if h > tail => report.problems.push(problem(
            ProblemKind::RolledBack,
            cluster,
            &paths::log_entry(cluster, h),
            format!("the head hint records entry {h} but the log ends at {tail} (entries removed: log rolled back?)"),
        )),
        HeadHintState::Unreadable(why) => report.problems.push(problem(
            ProblemKind::UnexpectedObject,
            cluster,
            &paths::head_hint(cluster),
            format!("unreadable head hint: {why}"),
        )),
        _ => {}
    }
    for p in foreign {
        report.problems.push(problem(ProblemKind::UnexpectedObject, cluster, &p, "not a log entry".into()));
    }
    let raws = log::read_entries(lake, cluster, &seqs).await?;
    report.entries += raws.len() as u64;
    state.check_chain(cluster, &raws, opts.from, opts.to);
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
                format!("entry {} is {} but the witness saw {} (log rewritten)", seen.seq, r.sha256, seen.entry_sha256),
            )),
            None => report.problems.push(problem(
                ProblemKind::RolledBack,
                cluster,
                &paths::log_entry(cluster, seen.seq),
                format!("the witness saw entry {} but the log ends at {tail} (log rolled back)", seen.seq),
            )),
        }
    }
    Ok(raws)
}

async fn check_unreferenced(
    lake: &Lake,
    opts: &VerifyOptions,
    objects: Vec<object_store::ObjectMeta>,
    referenced: &mut HashSet<String>,
    tails: &HashMap<ClusterName, u64>,
    started: DateTime<Utc>,
    report: &mut VerifyReport,
) -> Result<()> {
    let mut late_checked: HashSet<ClusterName> = HashSet::new();
    for meta in objects {
        let key = meta.location.to_string();
        let Some(ep) = EvaluationPath::parse(&key) else {
            report.problems.push(Problem {
                kind: ProblemKind::UnexpectedObject,
                cluster: None,
                object: key,
                detail: "not an evaluation object key (evaluations/cluster=<c>/date=<YYYY-MM-DD>/<id>.parquet)".into(),
            });
            continue;
        };
        if opts.clusters.as_ref().is_some_and(|want| !want.contains(&ep.cluster)) || referenced.contains(&key) {
            continue;
        }
        // Entries committed while we verified: read past the tail once per cluster.
        if late_checked.insert(ep.cluster.clone()) {
            let mut seq = tails.get(&ep.cluster).copied().unwrap_or(0) + 1;
            while let Some(raw) = log::get_entry(lake, &ep.cluster, seq).await? {
                if let Ok(e) = raw.parse() {
                    referenced.insert(e.snapshot.object_path);
                }
                seq += 1;
            }
            if referenced.contains(&key) {
                continue;
            }
        }
        let written = ep.snapshot_id.created_at();
        let grace = opts.in_flight_grace;
        if written.is_some_and(|t| t > started - grace) && meta.last_modified > started - grace {
            report.in_flight.push(key);
            continue;
        }
        report.problems.push(Problem {
            kind: ProblemKind::Unreferenced,
            cluster: Some(ep.cluster.to_string()),
            object: key,
            detail: "no log entry references this object (inserted, log rolled back, or left by a crashed writer)"
                .into(),
        });
    }
    Ok(())
}

async fn lake_keys(lake: &Lake, report: &mut VerifyReport) -> Result<Vec<PublicKey>> {
    let metas: Vec<_> = lake.store().list(Some(&Path::from(paths::KEYS_PREFIX))).try_collect().await?;
    let mut keys = Vec::new();
    for m in metas {
        let bytes = lake.store().get(&m.location).await?.bytes().await?;
        let parsed = std::str::from_utf8(&bytes)
            .map_err(|e| e.to_string())
            .and_then(|s| PublicKey::from_pem(s).map_err(|e| e.to_string()));
        match parsed {
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

/// What checking one snapshot's log entry and object found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotCheck {
    pub cluster: ClusterName,
    pub seq: u64,
    /// The key that verified the signature, when one did.
    pub key_id: Option<String>,
    /// Empty when the entry's signature, signed content and object digest all verify.
    pub problems: Vec<String>,
}

impl SnapshotCheck {
    pub fn verified(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Verifies the given snapshots' log entries (signature, signed content, stored position, the
/// entry digest the catalog recorded) and re-hashes their objects, without walking whole logs.
/// `wanted`: (cluster, seq, `sha256:` of the entry as the catalog recorded it).
pub async fn verify_snapshots(
    lake: &Lake,
    keys: &[PublicKey],
    wanted: &[(ClusterName, u64, String)],
) -> Result<Vec<SnapshotCheck>> {
    use futures::StreamExt;
    let descriptor = lake.require_descriptor().await?;
    let raws: Vec<Result<Option<RawEntry>>> = futures::stream::iter(wanted.iter().cloned())
        .map(|(c, seq, _)| async move { log::get_entry(lake, &c, seq).await })
        .buffered(16)
        .collect()
        .await;
    let mut state = entry::State::new(&descriptor.lake_id, keys);
    let mut out = Vec::with_capacity(wanted.len());
    let mut by_object: HashMap<String, usize> = HashMap::new();
    for ((cluster, seq, entry_sha), raw) in wanted.iter().zip(raws) {
        let mut check = SnapshotCheck { cluster: cluster.clone(), seq: *seq, key_id: None, problems: Vec::new() };
        match raw? {
            None => check.problems.push(format!("log entry {} is missing", paths::log_entry(cluster, *seq))),
            Some(raw) => {
                if &raw.sha256 != entry_sha {
                    check
                        .problems
                        .push(format!("log entry {} is {} but the catalog recorded {entry_sha}", raw.path, raw.sha256));
                }
                by_object.insert(raw.path.to_string(), out.len());
                match raw.parse() {
                    Err(e) => check.problems.push(e.to_string()),
                    Ok(e) => {
                        check.key_id = tarn_trust::bundle::verify_bundle(&e.bundle, keys).ok().map(|v| v.key_id);
                        by_object.insert(e.snapshot.object_path.clone(), out.len());
                        state.check_entry(cluster, &raw, &e, entry::Link::Unknown, None, None);
                    }
                }
            }
        }
        out.push(check);
    }
    let mut scratch = VerifyReport::default();
    objects::hash_objects(lake, std::mem::take(&mut state.to_hash), &mut scratch).await;
    for p in state.problems.into_iter().chain(scratch.problems) {
        if let Some(&i) = by_object.get(&p.object) {
            out[i].problems.push(format!("{:?}: {}", p.kind, p.detail));
        }
    }
    Ok(out)
}
