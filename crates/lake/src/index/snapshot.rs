//! In-memory catalog rows: a committed snapshot with its rollups in compact form.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use tarn_model::{ControlRollup, SnapshotRecord, StatusCounts};

/// Index of a (framework, framework version, control) triple in [`ControlKeys`].
pub type ControlKeyId = u32;

/// One control's resource counts in one snapshot: pass, fail, warn, skip, error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollupCell {
    pub key: ControlKeyId,
    pub counts: [u32; 5],
}

impl RollupCell {
    pub fn pass(&self) -> u64 {
        u64::from(self.counts[0])
    }
    pub fn fail(&self) -> u64 {
        u64::from(self.counts[1])
    }
    pub fn warn(&self) -> u64 {
        u64::from(self.counts[2])
    }
    pub fn skip(&self) -> u64 {
        u64::from(self.counts[3])
    }
    pub fn error(&self) -> u64 {
        u64::from(self.counts[4])
    }
    pub fn status_counts(&self) -> StatusCounts {
        StatusCounts { pass: self.pass(), fail: self.fail(), warn: self.warn(), skip: self.skip(), error: self.error() }
    }
}

/// A control named by a rollup.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ControlKey {
    pub framework: Arc<str>,
    pub framework_version: Arc<str>,
    pub control_id: Arc<str>,
}

/// Interns control names so rollups of thousands of snapshots stay small in memory.
#[derive(Debug, Default)]
pub struct ControlKeys {
    inner: RwLock<KeysInner>,
}

#[derive(Debug, Default)]
struct KeysInner {
    keys: Vec<ControlKey>,
    ids: HashMap<(String, String, String), ControlKeyId>,
}

impl ControlKeys {
    pub fn intern(&self, framework: &str, version: &str, control: &str) -> ControlKeyId {
        let lookup = (framework.to_string(), version.to_string(), control.to_string());
        if let Some(id) = self.inner.read().expect("keys lock").ids.get(&lookup) {
            return *id;
        }
        let mut w = self.inner.write().expect("keys lock");
        if let Some(id) = w.ids.get(&lookup) {
            return *id;
        }
        let id = ControlKeyId::try_from(w.keys.len()).expect("fewer than 2^32 controls");
        w.keys.push(ControlKey {
            framework: framework.into(),
            framework_version: version.into(),
            control_id: control.into(),
        });
        w.ids.insert(lookup, id);
        id
    }

    /// All keys so far, indexed by id.
    pub fn snapshot(&self) -> Vec<ControlKey> {
        self.inner.read().expect("keys lock").keys.clone()
    }

    pub fn cells(&self, rollups: &[ControlRollup]) -> Arc<[RollupCell]> {
        let clamp = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        rollups
            .iter()
            .map(|r| RollupCell {
                key: self.intern(&r.framework, &r.framework_version, &r.control_id),
                counts: [
                    clamp(r.resources.pass),
                    clamp(r.resources.fail),
                    clamp(r.resources.warn),
                    clamp(r.resources.skip),
                    clamp(r.resources.error),
                ],
            })
            .collect()
    }
}

/// A compacted object (`compacted/cluster=<c>/date=<d>/<id>.parquet`) and its size, which
/// readers need to find the Parquet footer without a HEAD request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CompactedRef {
    pub path: String,
    pub size: u64,
    /// Where the snapshot's rows are: row group `row_group` (of `row_groups`), rows
    /// `row_offset .. row_offset + row_count` of the `group_rows` in that group. A reader
    /// selects exactly its snapshots' rows without filtering.
    pub row_group: u32,
    pub row_groups: u32,
    pub row_offset: u64,
    pub group_rows: u64,
}

/// A committed snapshot as the catalog holds it.
#[derive(Debug)]
pub struct IndexedSnapshot {
    /// The log entry's record; its `rollups` are moved into [`Self::rollups`].
    pub record: SnapshotRecord,
    pub seq: u64,
    /// `sha256:<hex>` of the log entry.
    pub entry_sha256: String,
    /// The compacted object that also holds this snapshot's rows, if any.
    pub compacted_object: Option<CompactedRef>,
    /// Unset for snapshots written before rollups existed, until computed from the object.
    pub rollups: OnceLock<Arc<[RollupCell]>>,
}

impl IndexedSnapshot {
    /// Takes a record from a log entry, interning its rollups.
    pub fn from_entry(mut record: SnapshotRecord, seq: u64, entry_sha256: String, keys: &ControlKeys) -> Self {
        let rollups = OnceLock::new();
        let stored = std::mem::take(&mut record.rollups);
        if !stored.is_empty() || record.row_count == 0 {
            let _ = rollups.set(keys.cells(&stored));
        }
        Self { record, seq, entry_sha256, compacted_object: None, rollups }
    }

    /// Ordering within a cluster: observation time, then log position (a later commit of an
    /// equal `observed_at` is the newer posture).
    pub fn order_key(&self) -> (chrono::DateTime<chrono::Utc>, u64) {
        (self.record.observed_at, self.seq)
    }
}
