//! The checkpoint manifest (`_tarn/catalog/checkpoints/<n>.json`) and the per-cluster state
//! it carries.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use tarn_model::{ClusterName, GroupPath};

pub const CHECKPOINT_FORMAT: &str = "tarn.catalog-checkpoint/v1";

/// Catalog checkpoint `n`: every log entry up to each cluster's `head_seq` is in the day parts
/// it lists. Written once with a conditional create, never rewritten; derived data that
/// `tarn evidence verify` checks against the logs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointManifest {
    pub format: String,
    pub lake_id: String,
    pub checkpoint: u64,
    pub created_at: DateTime<Utc>,
    /// Sorted by cluster.
    pub clusters: Vec<ClusterState>,
    /// Sorted by date.
    pub days: Vec<DayPartRef>,
    /// Entries that could not be parsed (left out of the parts; `tarn evidence verify` names them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<SkippedEntry>,
}

/// What the catalog knows about one cluster's log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterState {
    pub cluster: ClusterName,
    /// Group of the cluster's newest snapshot.
    pub group_path: GroupPath,
    /// Last log entry covered (0: none).
    pub head_seq: u64,
    pub head_entry_sha256: Option<String>,
    pub snapshots: u64,
    pub first_observed_at: Option<DateTime<Utc>>,
    pub last_observed_at: Option<DateTime<Utc>>,
    /// Inclusive ranges of UTC dates with at least one snapshot, ascending. A point-in-time
    /// look-up opens only the day parts these name.
    pub active_days: Vec<[NaiveDate; 2]>,
}

impl ClusterState {
    pub fn new(cluster: ClusterName, group_path: GroupPath) -> Self {
        Self {
            cluster,
            group_path,
            head_seq: 0,
            head_entry_sha256: None,
            snapshots: 0,
            first_observed_at: None,
            last_observed_at: None,
            active_days: Vec::new(),
        }
    }

    /// Records a snapshot observed at `at` (any order).
    pub fn observe(&mut self, at: DateTime<Utc>, group_path: &GroupPath) {
        self.snapshots += 1;
        if self.last_observed_at.is_none_or(|l| at >= l) {
            self.last_observed_at = Some(at);
            self.group_path = group_path.clone();
        }
        if self.first_observed_at.is_none_or(|f| at < f) {
            self.first_observed_at = Some(at);
        }
        insert_day(&mut self.active_days, at.date_naive());
    }

    /// The newest active day on or before `date`.
    pub fn active_on_or_before(&self, date: NaiveDate) -> Option<NaiveDate> {
        let i = self.active_days.partition_point(|r| r[0] <= date);
        (i > 0).then(|| self.active_days[i - 1][1].min(date))
    }

    /// The newest active day strictly before `date`.
    pub fn active_before(&self, date: NaiveDate) -> Option<NaiveDate> {
        self.active_on_or_before(date.pred_opt()?)
    }

    /// Active days within `[from, to]`.
    pub fn active_within(&self, from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = NaiveDate> + '_ {
        self.active_days
            .iter()
            .filter(move |r| r[1] >= from && r[0] <= to)
            .flat_map(move |r| r[0].max(from).iter_days().take_while(move |d| *d <= r[1].min(to)))
    }
}

fn insert_day(ranges: &mut Vec<[NaiveDate; 2]>, d: NaiveDate) {
    let i = ranges.partition_point(|r| r[0] <= d);
    if i > 0 && ranges[i - 1][1] >= d {
        return;
    }
    let joins_prev = i > 0 && ranges[i - 1][1].succ_opt() == Some(d);
    let joins_next = i < ranges.len() && d.succ_opt() == Some(ranges[i][0]);
    match (joins_prev, joins_next) {
        (true, true) => {
            ranges[i - 1][1] = ranges[i][1];
            ranges.remove(i);
        }
        (true, false) => ranges[i - 1][1] = d,
        (false, true) => ranges[i][0] = d,
        (false, false) => ranges.insert(i, [d, d]),
    }
}

/// One day's parts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayPartRef {
    pub date: NaiveDate,
    pub snapshots: u64,
    pub snapshots_object: String,
    pub rollups_object: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedEntry {
    pub cluster: ClusterName,
    pub seq: u64,
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn active_day_ranges_merge_and_answer_lookups() {
        let mut r = Vec::new();
        for day in ["2026-01-05", "2026-01-03", "2026-01-04", "2026-01-10", "2026-01-04", "2026-01-09", "2026-01-01"] {
            insert_day(&mut r, d(day));
        }
        assert_eq!(
            r,
            vec![
                [d("2026-01-01"), d("2026-01-01")],
                [d("2026-01-03"), d("2026-01-05")],
                [d("2026-01-09"), d("2026-01-10")]
            ]
        );
        let mut s = ClusterState::new("c".parse().unwrap(), GroupPath::root());
        s.active_days = r;
        assert_eq!(s.active_on_or_before(d("2026-01-07")), Some(d("2026-01-05")));
        assert_eq!(s.active_on_or_before(d("2026-01-04")), Some(d("2026-01-04")));
        assert_eq!(s.active_on_or_before(d("2025-12-31")), None);
        assert_eq!(s.active_before(d("2026-01-03")), Some(d("2026-01-01")));
        assert_eq!(s.active_before(d("2026-01-01")), None);
        let within: Vec<_> = s.active_within(d("2026-01-04"), d("2026-01-09")).collect();
        assert_eq!(within, vec![d("2026-01-04"), d("2026-01-05"), d("2026-01-09")]);
    }
}
