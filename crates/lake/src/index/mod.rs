//! The catalog index: which snapshots are committed, found without reading the whole log.
//!
//! ```text
//! _tarn/catalog/_last_checkpoint.json ──▶ checkpoints/<n>.json ──▶ per-cluster heads, active days,
//!                                                                  day parts (snapshots + rollups)
//! log/cluster=<c>/<head+1..>.json  (the tail past each head, read at open)
//! ```
//!
//! Opening costs one small manifest, one delimiter listing of `log/` (one entry per cluster) and
//! the log entries written since the checkpoint; none of it grows with history. Day parts are
//! loaded on first use and cached, so a point-in-time question opens the one or two days it
//! needs. Checkpoints are derived data: `tarn evidence verify` checks them against the logs, and
//! without one the index reads the logs in full (the same answers, only slower).

mod checkpoint;
pub mod manifest;
mod parts;
mod snapshot;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path;
use tarn_model::{ClusterName, ControlRollup, GroupPath};

pub use checkpoint::{CheckpointOutcome, write_checkpoint};
pub use manifest::{CheckpointManifest, ClusterState, DayPartRef, SkippedEntry};
pub use parts::{encode as encode_part, rollups_batch, snapshots_batch};
pub use snapshot::{CompactedRef, ControlKey, ControlKeyId, ControlKeys, IndexedSnapshot, RollupCell};

use crate::error::{LakeError, Result};
use crate::log::{self, HeadHintState, RawEntry};
use crate::paths;
use crate::store::Lake;

/// The snapshots observed on one UTC day, ordered by cluster, `observed_at`, log sequence.
#[derive(Debug)]
pub struct Day {
    pub date: NaiveDate,
    pub snapshots: Vec<Arc<IndexedSnapshot>>,
}

impl Day {
    /// This day's snapshots of `cluster`, oldest first.
    pub fn of_cluster(&self, cluster: &ClusterName) -> &[Arc<IndexedSnapshot>] {
        let lo = self.snapshots.partition_point(|s| s.record.cluster < *cluster);
        let hi = self.snapshots.partition_point(|s| s.record.cluster <= *cluster);
        &self.snapshots[lo..hi]
    }
}

/// Which clusters a question is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    Cluster(ClusterName),
    /// A group and its descendants.
    Group(GroupPath),
}

impl Scope {
    /// `""` or `*`: everything; `/a/b`: that group and below; anything else: a cluster name.
    pub fn parse(s: &str) -> std::result::Result<Self, tarn_model::IdError> {
        match s.trim() {
            "" | "*" => Ok(Scope::All),
            g if g.starts_with('/') => Ok(Scope::Group(g.parse()?)),
            c => Ok(Scope::Cluster(c.parse()?)),
        }
    }

    /// Whether `cluster` can be in scope (group membership is decided per snapshot).
    pub fn may_contain(&self, cluster: &ClusterName) -> bool {
        match self {
            Scope::Cluster(c) => c == cluster,
            _ => true,
        }
    }

    pub fn admits(&self, s: &IndexedSnapshot) -> bool {
        match self {
            Scope::All => true,
            Scope::Cluster(c) => &s.record.cluster == c,
            Scope::Group(g) => s.record.group_path.is_within(g),
        }
    }
}

/// A cluster's posture at some time: its newest snapshot at or before it.
#[derive(Debug, Clone)]
pub struct PostureEntry {
    pub snapshot: Arc<IndexedSnapshot>,
    /// Older than the staleness bound.
    pub stale: bool,
}

type DayCell = Arc<tokio::sync::OnceCell<Arc<Day>>>;

/// The catalog, opened once and shared by every query of a session.
#[derive(Debug)]
pub struct CatalogIndex {
    lake: Lake,
    lake_id: Option<String>,
    base: Option<CheckpointManifest>,
    clusters: BTreeMap<ClusterName, ClusterState>,
    parts: BTreeMap<NaiveDate, DayPartRef>,
    tail: BTreeMap<NaiveDate, Vec<Arc<IndexedSnapshot>>>,
    tail_len: usize,
    skipped: Vec<SkippedEntry>,
    warnings: Vec<String>,
    keys: ControlKeys,
    days: Mutex<HashMap<NaiveDate, DayCell>>,
}

impl CatalogIndex {
    /// Opens the newest checkpoint and reads every log past its heads.
    pub async fn open(lake: &Lake) -> Result<Arc<Self>> {
        let lake_id = lake.descriptor().await?.map(|d| d.lake_id);
        let mut warnings = Vec::new();
        let base = match (&lake_id, latest_checkpoint(lake).await?) {
            (Some(id), Some(m)) if &m.lake_id == id => Some(m),
            (_, Some(m)) => {
                warnings.push(format!(
                    "ignoring catalog checkpoint {} (written for lake {}, not this one); reading the logs in full",
                    m.checkpoint, m.lake_id
                ));
                None
            }
            (_, None) => None,
        };
        let mut clusters: BTreeMap<ClusterName, ClusterState> =
            base.iter().flat_map(|m| m.clusters.iter().map(|c| (c.cluster.clone(), c.clone()))).collect();
        let parts: BTreeMap<NaiveDate, DayPartRef> =
            base.iter().flat_map(|m| m.days.iter().map(|d| (d.date, d.clone()))).collect();
        let mut skipped = base.as_ref().map(|m| m.skipped.clone()).unwrap_or_default();
        for s in &skipped {
            warnings.push(format!("log entry {} of cluster {} left out: {}", s.seq, s.cluster, s.reason));
        }
        for c in log::list_clusters(lake).await? {
            clusters.entry(c.clone()).or_insert_with(|| ClusterState::new(c, GroupPath::root()));
        }
        let heads: Vec<(ClusterName, u64)> = clusters.values().map(|c| (c.cluster.clone(), c.head_seq)).collect();
        let reads: Vec<_> = heads.iter().map(|(c, head)| read_tail(lake, c, *head)).collect();
        let tails: Vec<(ClusterName, Vec<RawEntry>)> =
            heads.iter().map(|(c, _)| c.clone()).zip(join_chunked(reads, 16).await?).collect();
        let keys = ControlKeys::default();
        let mut tail: BTreeMap<NaiveDate, Vec<Arc<IndexedSnapshot>>> = BTreeMap::new();
        let mut tail_len = 0;
        for (cluster, entries) in tails {
            let state = clusters.get_mut(&cluster).expect("listed cluster");
            for raw in entries {
                state.head_seq = raw.seq;
                state.head_entry_sha256 = Some(raw.sha256.clone());
                let parsed = match raw.parse() {
                    Ok(e)
                        if e.position.cluster != cluster
                            || e.position.seq != raw.seq
                            || lake_id.as_deref().is_some_and(|id| e.position.lake_id != id) =>
                    {
                        let p = &e.position;
                        Err(LakeError::CorruptEntry {
                            path: raw.path.to_string(),
                            reason: format!("claims position {}/{} of lake {}", p.cluster, p.seq, p.lake_id),
                        })
                    }
                    other => other,
                };
                match parsed {
                    Ok(e) => {
                        state.observe(e.snapshot.observed_at, &e.snapshot.group_path);
                        let snap = IndexedSnapshot::from_entry(e.snapshot, raw.seq, raw.sha256, &keys);
                        tail.entry(snap.record.observed_at.date_naive()).or_default().push(Arc::new(snap));
                        tail_len += 1;
                    }
                    Err(err) => {
                        warnings.push(format!("log entry {} of cluster {cluster} left out: {err}", raw.seq));
                        skipped.push(SkippedEntry { cluster: cluster.clone(), seq: raw.seq, reason: err.to_string() });
                    }
                }
            }
        }
        Ok(Arc::new(Self {
            lake: lake.clone(),
            lake_id,
            base,
            clusters,
            parts,
            tail,
            tail_len,
            skipped,
            warnings,
            keys,
            days: Mutex::default(),
        }))
    }

    pub fn lake(&self) -> &Lake {
        &self.lake
    }

    pub fn lake_id(&self) -> Option<&str> {
        self.lake_id.as_deref()
    }

    /// The checkpoint this index started from.
    pub fn checkpoint(&self) -> Option<&CheckpointManifest> {
        self.base.as_ref()
    }

    /// Log entries read past the checkpoint.
    pub fn tail_len(&self) -> usize {
        self.tail_len
    }

    /// Every cluster with a log, and what the index knows about it.
    pub fn clusters(&self) -> impl Iterator<Item = &ClusterState> {
        self.clusters.values()
    }

    pub fn cluster(&self, c: &ClusterName) -> Option<&ClusterState> {
        self.clusters.get(c)
    }

    pub fn skipped(&self) -> &[SkippedEntry] {
        &self.skipped
    }

    /// Entries that could not be read (left out of every answer).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    pub fn keys(&self) -> &ControlKeys {
        &self.keys
    }

    /// Days with at least one snapshot, ascending.
    pub fn dates(&self) -> Vec<NaiveDate> {
        let set: BTreeSet<NaiveDate> = self.parts.keys().chain(self.tail.keys()).copied().collect();
        set.into_iter().collect()
    }

    pub(crate) fn tail_dates(&self) -> impl Iterator<Item = &NaiveDate> {
        self.tail.keys()
    }

    /// One day's snapshots (loaded on first use, then cached).
    pub async fn day(&self, date: NaiveDate) -> Result<Arc<Day>> {
        let cell = self.days.lock().expect("day cache lock").entry(date).or_default().clone();
        cell.get_or_try_init(|| self.load_day(date)).await.cloned()
    }

    /// Several days, fetched concurrently, in the order given.
    pub async fn days(&self, dates: impl IntoIterator<Item = NaiveDate>) -> Result<Vec<Arc<Day>>> {
        let loads: Vec<_> = dates.into_iter().map(|d| self.day(d)).collect();
        join_chunked(loads, 16).await
    }

    async fn load_day(&self, date: NaiveDate) -> Result<Arc<Day>> {
        let mut snapshots: Vec<Arc<IndexedSnapshot>> = Vec::new();
        if let Some(part) = self.parts.get(&date) {
            let store = self.lake.store();
            let (sb, rb) = futures::try_join!(
                async { store.get(&Path::from(part.snapshots_object.as_str())).await?.bytes().await },
                async { store.get(&Path::from(part.rollups_object.as_str())).await?.bytes().await },
            )?;
            let decoded = parts::decode_snapshots(sb, &part.snapshots_object)?;
            let mut rollups = parts::decode_rollups(rb, &part.rollups_object, &self.keys)?;
            for s in decoded {
                if let Some(cells) = rollups.remove(&s.record.snapshot_id.to_string()) {
                    let _ = s.rollups.set(cells.into());
                } else if s.record.row_count == 0 {
                    let _ = s.rollups.set(Arc::from(Vec::new()));
                }
                snapshots.push(Arc::new(s));
            }
        }
        if let Some(t) = self.tail.get(&date) {
            snapshots.extend(t.iter().cloned());
        }
        snapshots
            .sort_by(|a, b| a.record.cluster.cmp(&b.record.cluster).then_with(|| a.order_key().cmp(&b.order_key())));
        Ok(Arc::new(Day { date, snapshots }))
    }

    /// For every cluster in `scope` that had reported by `at`: its newest snapshot observed at
    /// or before `at` (strictly before when `strict`), marked stale when older than `staleness`.
    /// Opens at most two days per cluster.
    pub async fn latest_at(
        &self,
        at: DateTime<Utc>,
        strict: bool,
        scope: &Scope,
        staleness: Duration,
    ) -> Result<Vec<PostureEntry>> {
        let before = |s: &IndexedSnapshot| if strict { s.record.observed_at < at } else { s.record.observed_at <= at };
        let candidates: Vec<&ClusterState> = self
            .clusters
            .values()
            .filter(|c| scope.may_contain(&c.cluster))
            .filter(|c| c.first_observed_at.is_some_and(|f| if strict { f < at } else { f <= at }))
            .collect();
        let mut out = Vec::with_capacity(candidates.len());
        let mut pending: Vec<(&ClusterState, NaiveDate)> =
            candidates.iter().filter_map(|c| c.active_on_or_before(at.date_naive()).map(|d| (*c, d))).collect();
        // Two rounds: the day of `at` may hold only snapshots after `at`.
        for _round in 0..2 {
            let dates: BTreeSet<NaiveDate> = pending.iter().map(|(_, d)| *d).collect();
            let loaded: HashMap<NaiveDate, Arc<Day>> =
                dates.iter().copied().zip(self.days(dates.iter().copied()).await?).collect();
            let mut next = Vec::new();
            for (c, d) in pending {
                let found = loaded[&d].of_cluster(&c.cluster).iter().rev().find(|s| before(s)).cloned();
                match found {
                    Some(s) => out.push(s),
                    None => {
                        if let Some(prev) = c.active_before(d) {
                            next.push((c, prev));
                        }
                    }
                }
            }
            pending = next;
            if pending.is_empty() {
                break;
            }
        }
        out.retain(|s| scope.admits(s));
        out.sort_by(|a, b| a.record.cluster.cmp(&b.record.cluster));
        Ok(out
            .into_iter()
            .map(|s| {
                let stale = at - s.record.observed_at > staleness;
                PostureEntry { snapshot: s, stale }
            })
            .collect())
    }

    /// Snapshots in `scope` observed within `[from, to]`, ordered by cluster, then time.
    pub async fn between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        scope: &Scope,
    ) -> Result<Vec<Arc<IndexedSnapshot>>> {
        if from > to {
            return Ok(Vec::new());
        }
        let (d0, d1) = (from.date_naive(), to.date_naive());
        let dates: Vec<NaiveDate> = match scope {
            Scope::Cluster(c) => match self.clusters.get(c) {
                Some(state) => state.active_within(d0, d1).collect(),
                None => Vec::new(),
            },
            _ => self.dates().into_iter().filter(|d| *d >= d0 && *d <= d1).collect(),
        };
        let mut out = Vec::new();
        for day in self.days(dates).await? {
            out.extend(
                day.snapshots
                    .iter()
                    .filter(|s| s.record.observed_at >= from && s.record.observed_at <= to && scope.admits(s))
                    .cloned(),
            );
        }
        out.sort_by(|a, b| a.record.cluster.cmp(&b.record.cluster).then_with(|| a.order_key().cmp(&b.order_key())));
        Ok(out)
    }

    /// Every committed snapshot (loads every day).
    pub async fn all(&self) -> Result<Vec<Arc<IndexedSnapshot>>> {
        let mut out = Vec::new();
        for day in self.days(self.dates()).await? {
            out.extend(day.snapshots.iter().cloned());
        }
        Ok(out)
    }

    /// Computes the rollups of snapshots written before rollups existed, from their objects.
    pub async fn ensure_rollups(&self, snaps: &[Arc<IndexedSnapshot>]) -> Result<()> {
        let missing: Vec<&Arc<IndexedSnapshot>> = snaps.iter().filter(|s| s.rollups.get().is_none()).collect();
        let reads: Vec<_> = missing.iter().map(|s| rollups_from_object(&self.lake, &s.record.object_path)).collect();
        for (s, r) in missing.iter().zip(join_chunked(reads, 8).await?) {
            let _ = s.rollups.set(self.keys.cells(&r));
        }
        Ok(())
    }
}

/// Awaits `futs` at most `n` at a time, keeping their order. (A plain vector of futures rather
/// than a stream of closures keeps the callers' futures `Send` for every lifetime.)
pub(crate) async fn join_chunked<F, T>(futs: Vec<F>, n: usize) -> Result<Vec<T>>
where
    F: std::future::Future<Output = Result<T>>,
{
    let mut out = Vec::with_capacity(futs.len());
    let mut it = futs.into_iter().peekable();
    while it.peek().is_some() {
        let chunk: Vec<F> = it.by_ref().take(n.max(1)).collect();
        out.extend(futures::future::try_join_all(chunk).await?);
    }
    Ok(out)
}

/// Reads the newest checkpoint manifest: the hint, then forward until a number is missing.
pub async fn latest_checkpoint(lake: &Lake) -> Result<Option<CheckpointManifest>> {
    let store = lake.store();
    let mut n = match store.get(&paths::last_checkpoint_hint()).await {
        Ok(r) => serde_json::from_slice::<serde_json::Value>(&r.bytes().await?)
            .ok()
            .and_then(|v| v["checkpoint"].as_u64())
            .unwrap_or(0),
        Err(object_store::Error::NotFound { .. }) => 0,
        Err(e) => return Err(e.into()),
    };
    let mut found: Option<bytes::Bytes> = None;
    loop {
        match store.get(&paths::checkpoint_manifest(n + 1)).await {
            Ok(r) => {
                found = Some(r.bytes().await?);
                n += 1;
            }
            Err(object_store::Error::NotFound { .. }) => break,
            Err(e) => return Err(e.into()),
        }
    }
    let bytes = match found {
        Some(b) => b,
        None if n == 0 => return Ok(None),
        None => match store.get(&paths::checkpoint_manifest(n)).await {
            Ok(r) => r.bytes().await?,
            // A hint beyond the last checkpoint: list (rare; only after manual deletion).
            Err(object_store::Error::NotFound { .. }) => return listed_checkpoint(lake).await,
            Err(e) => return Err(e.into()),
        },
    };
    parse_manifest(&bytes, &paths::checkpoint_manifest(n)).map(Some)
}

async fn listed_checkpoint(lake: &Lake) -> Result<Option<CheckpointManifest>> {
    let prefix = Path::from(format!("{}/checkpoints", paths::CATALOG_PREFIX));
    let metas: Vec<_> = lake.store().list(Some(&prefix)).try_collect().await?;
    let Some(last) = metas.iter().map(|m| m.location.clone()).max_by(|a, b| a.as_ref().cmp(b.as_ref())) else {
        return Ok(None);
    };
    let bytes = lake.store().get(&last).await?.bytes().await?;
    parse_manifest(&bytes, &last).map(Some)
}

fn parse_manifest(bytes: &[u8], path: &Path) -> Result<CheckpointManifest> {
    let m: CheckpointManifest = serde_json::from_slice(bytes)
        .map_err(|e| LakeError::CorruptCatalog { path: path.to_string(), reason: e.to_string() })?;
    if m.format != manifest::CHECKPOINT_FORMAT {
        return Err(LakeError::CorruptCatalog {
            path: path.to_string(),
            reason: format!("unknown format {:?}", m.format),
        });
    }
    Ok(m)
}

/// The entries of `cluster`'s log after `head` (all of them when `head` is 0).
async fn read_tail(lake: &Lake, cluster: &ClusterName, head: u64) -> Result<Vec<RawEntry>> {
    if head == 0 {
        let (seqs, _) = log::list_entries(lake, cluster).await?;
        return log::read_entries(lake, cluster, &seqs).await;
    }
    let mut out = Vec::new();
    let mut next = head + 1;
    // The head hint says how far to fetch concurrently; probing one by one finds the rest.
    if let HeadHintState::Seq(h) = log::head_hint(lake, cluster).await?
        && h > head
    {
        let gets: Vec<_> = (next..=h).map(|seq| log::get_entry(lake, cluster, seq)).collect();
        let fetched: Vec<Option<RawEntry>> = join_chunked(gets, 16).await?;
        for e in fetched {
            match e {
                Some(e) => {
                    next = e.seq + 1;
                    out.push(e);
                }
                None => return Ok(out),
            }
        }
    }
    while let Some(e) = log::get_entry(lake, cluster, next).await? {
        next += 1;
        out.push(e);
    }
    Ok(out)
}

/// Rollups recomputed from a snapshot object's rows.
pub async fn rollups_from_object(lake: &Lake, object_path: &str) -> Result<Vec<ControlRollup>> {
    let rows = crate::reader::read_rows(lake, object_path, crate::reader::Columns::Rollup).await?;
    Ok(ControlRollup::of(&rows))
}

#[cfg(test)]
mod send_checks {
    fn assert_send<T: Send>(_: &T) {}

    #[allow(dead_code)]
    fn futures_are_send(lake: &crate::Lake, clock: &dyn tarn_model::Clock) {
        let empty = Default::default();
        assert_send(&super::CatalogIndex::open(lake));
        assert_send(&super::write_checkpoint(lake, clock, &empty));
        assert_send(&super::read_tail(lake, &"a".parse().unwrap(), 0));
    }
}
