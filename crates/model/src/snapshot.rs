use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{ClusterName, GroupPath, SnapshotId, StatusCounts};

/// Who produced a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentInfo {
    pub id: String,
    pub version: String,
}

/// The record of one evaluation snapshot. It is the predicate of the signed statement and the
/// body of the cluster log entry, so every field here is covered by the signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotRecord {
    pub snapshot_id: SnapshotId,
    pub cluster: ClusterName,
    pub group_path: GroupPath,
    /// When the inventory was read from the cluster (the posture's "as of").
    pub observed_at: DateTime<Utc>,
    /// When the policies were evaluated.
    pub evaluated_at: DateTime<Utc>,
    /// When the writer started storing the snapshot.
    pub ingested_at: DateTime<Utc>,
    pub agent: AgentInfo,
    /// `sha256:<hex>` of the canonical policy-set description.
    pub policy_digest: String,
    /// `sha256:<hex>` of the inventory inputs.
    pub inventory_digest: String,
    /// Frameworks evaluated, as `name@version`.
    pub frameworks: Vec<String>,
    pub row_count: u64,
    pub status_counts: StatusCounts,
    /// Object key of the Parquet object, relative to the lake root.
    pub object_path: String,
    pub object_size: u64,
    /// `sha256:<hex>` of the Parquet object's bytes.
    pub object_sha256: String,
}
