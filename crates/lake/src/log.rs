//! The per-cluster, hash-chained, append-only snapshot log.
//!
//! Entry `n` of cluster `c` lives at `log/cluster=<c>/<n:020>.json` and holds the snapshot
//! record, the SHA-256 of entry `n-1`'s bytes, and a Sigstore bundle whose signed in-toto
//! statement covers the Parquet object's digest *and* the log position (cluster, seq, prev).
//! Entries are created with `PutMode::Create`, so two writers can never both own a position:
//! the loser re-reads the tail, re-signs for the next position and retries. A snapshot is
//! visible to readers only once its entry exists.

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutMode, PutPayload};
use serde::{Deserialize, Serialize};
use tarn_model::{ClusterName, SnapshotRecord};
use tarn_trust::bundle::{Bundle, sign_statement};
use tarn_trust::keys::SigningKeyPair;
use tarn_trust::statement::{Statement, Subject};

use crate::error::{LakeError, Result};
use crate::paths::{self, LogKey};
use crate::store::Lake;

pub const LOG_ENTRY_FORMAT: &str = "tarn.log-entry/v1";
/// Predicate type of snapshot statements (shaped after the SLSA Verification Summary).
pub const SNAPSHOT_PREDICATE_TYPE: &str = "https://tarn.dev/attestation/evaluation-snapshot/v1";

/// Where an entry sits in its cluster's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogPosition {
    /// The lake's id (`_tarn/lake.json`): entries cannot be replayed into another lake.
    pub lake_id: String,
    pub cluster: ClusterName,
    pub seq: u64,
    /// `sha256:<hex>` of the previous entry's bytes; `None` for the first entry.
    pub prev_entry_sha256: Option<String>,
}

/// One log entry as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    pub format: String,
    #[serde(flatten)]
    pub position: LogPosition,
    pub snapshot: SnapshotRecord,
    pub bundle: Bundle,
}

/// The signed predicate. The first fields follow the SLSA Verification Summary Attestation
/// (`verifier`, `timeVerified`, `resourceUri`, `policy`, `inputAttestations`,
/// `verificationResult`); `snapshot` and `log` are Tarn's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotPredicate {
    pub verifier: serde_json::Value,
    pub time_verified: chrono::DateTime<chrono::Utc>,
    pub resource_uri: String,
    pub policy: serde_json::Value,
    pub input_attestations: Vec<serde_json::Value>,
    /// `PASSED` when the snapshot has no failing or erroring rows, else `FAILED`.
    pub verification_result: String,
    pub snapshot: SnapshotRecord,
    pub log: LogPosition,
}

fn digest_set(prefixed: &str) -> serde_json::Value {
    let hex = prefixed.strip_prefix("sha256:").unwrap_or(prefixed);
    serde_json::json!({ "sha256": hex })
}

/// The statement a writer signs for `record` at `position`.
pub fn snapshot_statement(record: &SnapshotRecord, position: &LogPosition) -> Statement {
    let passed = record.status_counts.fail == 0 && record.status_counts.error == 0;
    let predicate = SnapshotPredicate {
        verifier: serde_json::json!({
            "id": record.agent.id,
            "version": { "tarn": record.agent.version },
        }),
        time_verified: record.evaluated_at,
        resource_uri: format!("tarn://cluster/{}", record.cluster),
        policy: serde_json::json!({ "uri": record.frameworks.join(","), "digest": digest_set(&record.policy_digest) }),
        input_attestations: vec![serde_json::json!({
            "uri": "inventory",
            "digest": digest_set(&record.inventory_digest),
        })],
        verification_result: if passed { "PASSED" } else { "FAILED" }.to_string(),
        snapshot: record.clone(),
        log: position.clone(),
    };
    let hex = record.object_sha256.strip_prefix("sha256:").unwrap_or(&record.object_sha256);
    Statement::new(
        vec![Subject::sha256(record.object_path.clone(), hex)],
        SNAPSHOT_PREDICATE_TYPE,
        serde_json::to_value(predicate).expect("serializable"),
    )
}

/// A log entry read back, with the digest of its exact bytes.
#[derive(Debug, Clone)]
pub struct RawEntry {
    pub cluster: ClusterName,
    pub seq: u64,
    pub path: Path,
    pub bytes: bytes::Bytes,
    /// `sha256:<hex>` of `bytes`.
    pub sha256: String,
}

impl RawEntry {
    pub fn parse(&self) -> Result<LogEntry> {
        let e: LogEntry = serde_json::from_slice(&self.bytes)
            .map_err(|e| LakeError::CorruptEntry { path: self.path.to_string(), reason: e.to_string() })?;
        if e.format != LOG_ENTRY_FORMAT {
            return Err(LakeError::CorruptEntry {
                path: self.path.to_string(),
                reason: format!("unknown entry format {:?}", e.format),
            });
        }
        Ok(e)
    }
}

fn prefixed_sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", tarn_trust::sha256_hex(bytes))
}

/// Clusters that have a log.
pub async fn list_clusters(lake: &Lake) -> Result<Vec<ClusterName>> {
    let listing = lake.store().list_with_delimiter(Some(&Path::from(paths::LOG_PREFIX))).await?;
    let mut out: Vec<ClusterName> =
        listing.common_prefixes.iter().filter_map(|p| paths::cluster_of_log_dir(p.as_ref())).collect();
    out.sort();
    Ok(out)
}

/// Sequence numbers present in a cluster's log (sorted), plus keys that do not belong there.
pub async fn list_entries(lake: &Lake, cluster: &ClusterName) -> Result<(Vec<u64>, Vec<Path>)> {
    let mut seqs = Vec::new();
    let mut foreign = Vec::new();
    let mut stream = lake.store().list(Some(&paths::log_dir(cluster)));
    while let Some(meta) = stream.try_next().await? {
        match paths::parse_log_key(meta.location.as_ref()) {
            Some(LogKey::Entry { cluster: c, seq }) if &c == cluster => seqs.push(seq),
            Some(LogKey::HeadHint { cluster: c }) if &c == cluster => {}
            _ => foreign.push(meta.location),
        }
    }
    seqs.sort_unstable();
    Ok((seqs, foreign))
}

pub async fn get_entry(lake: &Lake, cluster: &ClusterName, seq: u64) -> Result<Option<RawEntry>> {
    let path = paths::log_entry(cluster, seq);
    match lake.store().get(&path).await {
        Ok(r) => {
            let bytes = r.bytes().await?;
            Ok(Some(RawEntry { cluster: cluster.clone(), seq, sha256: prefixed_sha256(&bytes), path, bytes }))
        }
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Reads the given entries of a cluster's log, in order, fetching up to 16 at once.
pub async fn read_entries(lake: &Lake, cluster: &ClusterName, seqs: &[u64]) -> Result<Vec<RawEntry>> {
    futures::stream::iter(seqs.iter().copied())
        .map(|seq| async move {
            get_entry(lake, cluster, seq).await?.ok_or_else(|| LakeError::CorruptEntry {
                path: paths::log_entry(cluster, seq).to_string(),
                reason: "entry disappeared while reading".into(),
            })
        })
        .buffered(16)
        .try_collect()
        .await
}

#[derive(Serialize, Deserialize)]
struct HeadHint {
    seq: u64,
}

/// What a cluster's head hint says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadHintState {
    Missing,
    Seq(u64),
    /// Present but not a valid hint; the reason.
    Unreadable(String),
}

/// Reads the cluster's head hint.
pub async fn head_hint(lake: &Lake, cluster: &ClusterName) -> Result<HeadHintState> {
    match lake.store().get(&paths::head_hint(cluster)).await {
        Ok(r) => Ok(match serde_json::from_slice::<HeadHint>(&r.bytes().await?) {
            Ok(h) => HeadHintState::Seq(h.seq),
            Err(e) => HeadHintState::Unreadable(e.to_string()),
        }),
        Err(object_store::Error::NotFound { .. }) => Ok(HeadHintState::Missing),
        Err(e) => Err(e.into()),
    }
}

/// The last entry as far as we can cheaply tell: the head hint if it names an existing entry,
/// else a listing. May be stale; [`commit`] corrects for that by probing forward.
async fn tail(lake: &Lake, cluster: &ClusterName) -> Result<Option<RawEntry>> {
    if let HeadHintState::Seq(seq) = head_hint(lake, cluster).await?
        && let Some(e) = get_entry(lake, cluster, seq).await?
    {
        return Ok(Some(e));
    }
    listed_tail(lake, cluster).await
}

/// The newest entry of a cluster's log: the hinted tail, then forward to the real end.
pub async fn head(lake: &Lake, cluster: &ClusterName) -> Result<Option<RawEntry>> {
    let Some(mut last) = tail(lake, cluster).await? else { return Ok(None) };
    while let Some(next) = get_entry(lake, cluster, last.seq + 1).await? {
        last = next;
    }
    Ok(Some(last))
}

/// How far back from the tail [`find_recent`] looks.
const RECENT_DEPTH: u64 = 64;

/// The entry committing `snapshot_id`, if it is among the newest entries of the cluster's log.
/// Used to make re-writes of a spooled snapshot idempotent. The walk back from the tail stops
/// at the first entry ingested before `not_before` (it was committed before this snapshot
/// existed) or after a bounded number of entries.
pub async fn find_recent(
    lake: &Lake,
    cluster: &ClusterName,
    snapshot_id: &tarn_model::SnapshotId,
    not_before: chrono::DateTime<chrono::Utc>,
) -> Result<Option<(RawEntry, LogEntry)>> {
    let Some(last) = head(lake, cluster).await? else { return Ok(None) };
    let stop = last.seq.saturating_sub(RECENT_DEPTH);
    let mut current = Some(last);
    while let Some(r) = current {
        let older = match r.parse() {
            Ok(e) if &e.snapshot.snapshot_id == snapshot_id => return Ok(Some((r, e))),
            Ok(e) => e.snapshot.ingested_at < not_before,
            Err(_) => false,
        };
        if older || r.seq <= 1 || r.seq <= stop + 1 {
            break;
        }
        current = get_entry(lake, cluster, r.seq - 1).await?;
    }
    Ok(None)
}

/// What a successful commit returns.
#[derive(Debug, Clone)]
pub struct Committed {
    pub seq: u64,
    pub path: Path,
    /// `sha256:<hex>` of the committed entry's bytes.
    pub entry_sha256: String,
    pub attempts: u32,
}

const MAX_COMMIT_ATTEMPTS: u32 = 512;

/// The last entry by listing the log (authoritative, but costs a listing).
async fn listed_tail(lake: &Lake, cluster: &ClusterName) -> Result<Option<RawEntry>> {
    let (seqs, _) = list_entries(lake, cluster).await?;
    match seqs.last() {
        Some(&seq) => get_entry(lake, cluster, seq).await,
        None => Ok(None),
    }
}

/// Appends `record` to its cluster's log in lake `lake_id`, signing it for the position it
/// lands at.
pub async fn commit(lake: &Lake, lake_id: &str, record: &SnapshotRecord, key: &SigningKeyPair) -> Result<Committed> {
    let cluster = &record.cluster;
    let mut prev = tail(lake, cluster).await?;
    for attempt in 1..=MAX_COMMIT_ATTEMPTS {
        let position = LogPosition {
            lake_id: lake_id.to_string(),
            cluster: cluster.clone(),
            seq: prev.as_ref().map_or(1, |e| e.seq + 1),
            prev_entry_sha256: prev.as_ref().map(|e| e.sha256.clone()),
        };
        let bundle = sign_statement(key, &snapshot_statement(record, &position))?;
        let entry = LogEntry {
            format: LOG_ENTRY_FORMAT.to_string(),
            position: position.clone(),
            snapshot: record.clone(),
            bundle,
        };
        let body = serde_json::to_vec_pretty(&entry).expect("serializable");
        let path = paths::log_entry(cluster, position.seq);
        let sha = prefixed_sha256(&body);
        match lake.store().put_opts(&path, PutPayload::from(body), PutMode::Create.into()).await {
            Ok(_) => {
                let hint = serde_json::to_vec(&HeadHint { seq: position.seq }).expect("serializable");
                // Best effort: the hint only saves readers a listing.
                if let Err(e) = lake.store().put(&paths::head_hint(cluster), PutPayload::from(hint)).await {
                    tracing::warn!(%cluster, error = %e, "could not update log head hint");
                }
                return Ok(Committed { seq: position.seq, path, entry_sha256: sha, attempts: attempt });
            }
            Err(object_store::Error::AlreadyExists { .. }) => {
                let taken = get_entry(lake, cluster, position.seq).await?;
                // A retried request whose first attempt was stored after all: that is us.
                if let Some(e) = &taken
                    && e.parse().is_ok_and(|p| p.snapshot.snapshot_id == record.snapshot_id)
                {
                    return Ok(Committed { seq: e.seq, path, entry_sha256: e.sha256.clone(), attempts: attempt });
                }
                // Someone else took this position: it becomes our predecessor. After a few
                // collisions in a row the hint is probably far behind: list instead.
                prev = match taken {
                    Some(e) if attempt % 4 != 0 => Some(e),
                    _ => listed_tail(lake, cluster).await?,
                };
                if attempt > 2 {
                    // Random jitter so colliding writers spread out instead of racing in lockstep.
                    use std::hash::BuildHasher;
                    let jitter = std::collections::hash_map::RandomState::new().hash_one(attempt) % 20;
                    tokio::time::sleep(std::time::Duration::from_millis(jitter)).await;
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(LakeError::Contention { cluster: cluster.to_string(), attempts: MAX_COMMIT_ATTEMPTS })
}
