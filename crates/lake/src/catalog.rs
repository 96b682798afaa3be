//! The catalog: which snapshots are committed, read from the cluster logs.
//!
//! It is the single owner of file metadata: readers learn which Parquet objects exist only
//! from here, never from listing `evaluations/`.

use tarn_model::{ClusterName, SnapshotRecord};

use crate::error::Result;
use crate::log;
use crate::store::Lake;

/// A committed snapshot.
#[derive(Debug, Clone)]
pub struct CatalogSnapshot {
    pub record: SnapshotRecord,
    pub seq: u64,
    /// `sha256:<hex>` of the log entry.
    pub entry_sha256: String,
}

#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// Ordered by cluster, then log sequence.
    pub snapshots: Vec<CatalogSnapshot>,
    /// Entries that could not be read; they are left out (run `tarn evidence verify`).
    pub warnings: Vec<String>,
}

impl Catalog {
    /// Loads every committed snapshot, or only those of `clusters`.
    pub async fn load(lake: &Lake, clusters: Option<&[ClusterName]>) -> Result<Self> {
        let all = log::list_clusters(lake).await?;
        let mut cat = Catalog::default();
        for cluster in all.iter().filter(|c| clusters.is_none_or(|want| want.contains(c))) {
            let (seqs, _) = log::list_entries(lake, cluster).await?;
            for raw in log::read_entries(lake, cluster, &seqs).await? {
                match raw.parse() {
                    Ok(e) => cat.snapshots.push(CatalogSnapshot {
                        record: e.snapshot,
                        seq: raw.seq,
                        entry_sha256: raw.sha256,
                    }),
                    Err(err) => cat.warnings.push(err.to_string()),
                }
            }
        }
        Ok(cat)
    }
}
