use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{ClusterName, EvaluationRow, GroupPath, SnapshotId, Status, StatusCounts};

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
    /// Resource-level counts per control, computed from the rows at ingest (see
    /// [`ControlRollup`]). Absent in snapshots written before rollups existed; readers
    /// compute them from the object then.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rollups: Vec<ControlRollup>,
}

/// How many resources had each status for one control in one snapshot.
///
/// A *resource* is what a row's `namespace`, `workload_kind` and `workload_name` name (a
/// workload, or for cluster-scoped CIS controls a Role, Namespace, ...). Its status for a control
/// is the worst of its rows (one per container): `error` > `fail` > `warn` > `pass` > `skip`, so
/// a workload passes only when every container passes, and is `skip` only when every row is.
///
/// Score math built on this (`schemas/lake-v1.md`): evaluated = pass + fail + warn + error;
/// control % = pass / evaluated; framework % = mean of the control percentages of controls
/// with at least one evaluated resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlRollup {
    pub framework: String,
    pub framework_version: String,
    pub control_id: String,
    /// Resources per resource status.
    #[serde(flatten)]
    pub resources: StatusCounts,
}

impl ControlRollup {
    /// Rollups of one snapshot's rows, ordered by framework, version and control.
    pub fn of(rows: &[EvaluationRow]) -> Vec<ControlRollup> {
        use std::collections::BTreeMap;
        type Control<'a> = (&'a str, &'a str, &'a str);
        type Resource<'a> = (&'a str, &'a str, &'a str);
        let mut worst: BTreeMap<Control<'_>, BTreeMap<Resource<'_>, Status>> = BTreeMap::new();
        for r in rows {
            let per = worst.entry((&r.framework, &r.framework_version, &r.control_id)).or_default();
            let slot = per.entry((&r.namespace, &r.workload_kind, &r.workload_name)).or_insert(r.status);
            if r.status.resource_rank() > slot.resource_rank() {
                *slot = r.status;
            }
        }
        worst
            .into_iter()
            .map(|((framework, version, control), resources)| {
                let mut counts = StatusCounts::default();
                for s in resources.into_values() {
                    counts.add(s);
                }
                ControlRollup {
                    framework: framework.to_string(),
                    framework_version: version.to_string(),
                    control_id: control.to_string(),
                    resources: counts,
                }
            })
            .collect()
    }
}
