//! Writing a catalog checkpoint: fold the log tail into per-day parts and a new manifest.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::NaiveDate;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutMode, PutPayload};
use tarn_model::{Clock, SnapshotId};

use super::manifest::{CHECKPOINT_FORMAT, CheckpointManifest, DayPartRef};
use super::snapshot::{CompactedRef, IndexedSnapshot};
use super::{CatalogIndex, parts};
use crate::error::{LakeError, Result};
use crate::paths;
use crate::store::Lake;

/// What [`write_checkpoint`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointOutcome {
    /// Checkpoint `n` now covers every entry the writer saw.
    Written { checkpoint: u64, entries: usize, days: usize },
    /// Nothing new since checkpoint `n` (or no log at all when `None`).
    UpToDate(Option<u64>),
    /// Another writer created checkpoint `n` first; this one was abandoned (nothing is lost:
    /// the next checkpoint folds in whatever that one did not).
    Raced(u64),
}

/// Writes the next checkpoint: every day touched by the log tail (or by `compacted`, which maps
/// snapshots to the compacted object now holding their rows) gets a new part; the manifest is
/// created with a conditional put, so concurrent checkpointers cannot both win.
pub async fn write_checkpoint(
    lake: &Lake,
    clock: &dyn Clock,
    compacted: &HashMap<SnapshotId, CompactedRef>,
) -> Result<CheckpointOutcome> {
    let created_at = clock.now();
    let index = CatalogIndex::open(lake).await?;
    let base_n = index.checkpoint().map(|m| m.checkpoint);
    let Some(lake_id) = index.lake_id().map(str::to_string) else { return Ok(CheckpointOutcome::UpToDate(None)) };
    let mut touched: BTreeSet<NaiveDate> = index.tail_dates().copied().collect();
    if !compacted.is_empty() {
        // Only the days holding those snapshots change.
        for date in index.dates() {
            if touched.contains(&date) {
                continue;
            }
            let day = index.day(date).await?;
            if day.snapshots.iter().any(|s| compacted.contains_key(&s.record.snapshot_id)) {
                touched.insert(date);
            }
        }
    }
    if touched.is_empty() && index.skipped().len() == index.checkpoint().map_or(0, |m| m.skipped.len()) {
        return Ok(CheckpointOutcome::UpToDate(base_n));
    }
    let n = base_n.unwrap_or(0) + 1;
    let unique = uuid::Uuid::now_v7().simple().to_string();
    let mut days: BTreeMap<NaiveDate, DayPartRef> =
        index.checkpoint().iter().flat_map(|m| m.days.iter().map(|d| (d.date, d.clone()))).collect();
    let mut written: Vec<Path> = Vec::new();
    let result =
        publish(lake, &index, compacted, &touched, &mut days, &mut written, n, &unique, lake_id, created_at).await;
    match result {
        Ok(true) => {
            let hint = serde_json::to_vec(&serde_json::json!({ "checkpoint": n })).expect("serializable");
            if let Err(e) = lake.store().put(&paths::last_checkpoint_hint(), PutPayload::from(hint)).await {
                tracing::warn!(error = %e, "could not update the checkpoint hint");
            }
            Ok(CheckpointOutcome::Written { checkpoint: n, entries: index.tail_len(), days: touched.len() })
        }
        other => {
            // Our parts are unreferenced now; remove them (best effort).
            for p in written {
                let _ = lake.store().delete(&p).await;
            }
            other.map(|_| CheckpointOutcome::Raced(n))
        }
    }
}

/// Writes the touched days' parts and manifest `n`; `Ok(false)` when `n` was taken.
#[allow(clippy::too_many_arguments)]
async fn publish(
    lake: &Lake,
    index: &CatalogIndex,
    compacted: &HashMap<SnapshotId, CompactedRef>,
    touched: &BTreeSet<NaiveDate>,
    days: &mut BTreeMap<NaiveDate, DayPartRef>,
    written: &mut Vec<Path>,
    n: u64,
    unique: &str,
    lake_id: String,
    created_at: chrono::DateTime<chrono::Utc>,
) -> Result<bool> {
    for &date in touched {
        let day = index.day(date).await?;
        index.ensure_rollups(&day.snapshots).await?;
        let mut snaps: Vec<Arc<IndexedSnapshot>> = Vec::with_capacity(day.snapshots.len());
        for s in &day.snapshots {
            let updated = match compacted.get(&s.record.snapshot_id) {
                Some(obj) if s.compacted_object.as_ref() != Some(obj) => Arc::new(with_compacted(s, obj)),
                _ => s.clone(),
            };
            snaps.push(updated);
        }
        let keys = index.keys().snapshot();
        let sp = paths::day_part(date, "snapshots", n, unique);
        let rp = paths::day_part(date, "rollups", n, unique);
        let sb = parts::encode(&parts::snapshots_batch(&snaps)?, sp.as_ref())?;
        let rb = parts::encode(&parts::rollups_batch(&snaps, &keys)?, rp.as_ref())?;
        lake.store().put_opts(&sp, PutPayload::from(sb), PutMode::Create.into()).await?;
        written.push(sp.clone());
        lake.store().put_opts(&rp, PutPayload::from(rb), PutMode::Create.into()).await?;
        written.push(rp.clone());
        days.insert(
            date,
            DayPartRef {
                date,
                snapshots: snaps.len() as u64,
                snapshots_object: sp.to_string(),
                rollups_object: rp.to_string(),
            },
        );
    }
    let manifest = CheckpointManifest {
        format: CHECKPOINT_FORMAT.into(),
        lake_id,
        checkpoint: n,
        created_at,
        clusters: index.clusters().cloned().collect(),
        days: days.values().cloned().collect(),
        skipped: index.skipped().to_vec(),
    };
    let body = serde_json::to_vec_pretty(&manifest).expect("serializable");
    match lake.store().put_opts(&paths::checkpoint_manifest(n), PutPayload::from(body), PutMode::Create.into()).await {
        Ok(_) => Ok(true),
        Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
        Err(e) => Err(LakeError::from(e)),
    }
}

fn with_compacted(s: &IndexedSnapshot, object: &CompactedRef) -> IndexedSnapshot {
    let rollups = std::sync::OnceLock::new();
    if let Some(r) = s.rollups.get() {
        let _ = rollups.set(r.clone());
    }
    IndexedSnapshot {
        record: s.record.clone(),
        seq: s.seq,
        entry_sha256: s.entry_sha256.clone(),
        compacted_object: Some(object.clone()),
        rollups,
    }
}
