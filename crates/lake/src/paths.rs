//! Every object key the lake uses is built here, and only here.
//!
//! ```text
//! _tarn/lake.json                                              lake descriptor (format version)
//! evaluations/cluster=<c>/date=<YYYY-MM-DD>/<snapshot-id>.parquet   evaluation rows (Hive layout)
//! log/cluster=<c>/<seq:020>.json                               per-cluster hash-chained log
//! log/cluster=<c>/_head.json                                   non-authoritative head hint
//! keys/<key-id>.pub                                            public keys seen by writers (convenience, not a trust anchor)
//! _tarn/catalog/_last_checkpoint.json                          non-authoritative hint: newest checkpoint number
//! _tarn/catalog/checkpoints/<n:020>.json                       catalog checkpoint manifest n (created once, never rewritten)
//! _tarn/catalog/days/date=<d>/snapshots-<n:020>-<id>.parquet   snapshots observed on day d, as of checkpoint n
//! _tarn/catalog/days/date=<d>/rollups-<n:020>-<id>.parquet     their per-control rollups
//! compacted/cluster=<c>/date=<d>/<id>.parquet                  one cluster-day's snapshots in one object (derived)
//! _tarn/compactions/cluster=<c>/date=<d>/<id>.json             what a compacted object was built from
//! ```
//!
//! Report keys (`reports/`) are built in [`crate::reports`], alert keys (`alerts/`) in
//! [`crate::alerts`], next to the records stored there.

use chrono::NaiveDate;
use object_store::path::Path;
use tarn_model::{ClusterName, SnapshotId};

pub const LAKE_DESCRIPTOR: &str = "_tarn/lake.json";
pub const EVALUATIONS_PREFIX: &str = "evaluations";
pub const LOG_PREFIX: &str = "log";
pub const KEYS_PREFIX: &str = "keys";
pub const HEAD_HINT_FILE: &str = "_head.json";

pub fn lake_descriptor() -> Path {
    Path::from(LAKE_DESCRIPTOR)
}

/// `evaluations/cluster=<c>/date=<d>/<id>.parquet`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvaluationPath {
    pub cluster: ClusterName,
    pub date: NaiveDate,
    pub snapshot_id: SnapshotId,
}

impl EvaluationPath {
    pub fn to_path(&self) -> Path {
        Path::from(format!(
            "{EVALUATIONS_PREFIX}/cluster={}/date={}/{}.parquet",
            self.cluster,
            self.date.format("%Y-%m-%d"),
            self.snapshot_id
        ))
    }

    /// Parses a key written by [`Self::to_path`]; `None` for anything else.
    pub fn parse(path: &str) -> Option<Self> {
        let rest = path.strip_prefix(EVALUATIONS_PREFIX)?.strip_prefix('/')?;
        let mut parts = rest.split('/');
        let cluster = parts.next()?.strip_prefix("cluster=")?.parse().ok()?;
        let date = NaiveDate::parse_from_str(parts.next()?.strip_prefix("date=")?, "%Y-%m-%d").ok()?;
        let snapshot_id = parts.next()?.strip_suffix(".parquet")?.parse().ok()?;
        if parts.next().is_some() {
            return None;
        }
        let parsed = Self { cluster, date, snapshot_id };
        (parsed.to_path().as_ref() == path).then_some(parsed)
    }
}

/// `log/cluster=<c>/`
pub fn log_dir(cluster: &ClusterName) -> Path {
    Path::from(format!("{LOG_PREFIX}/cluster={cluster}"))
}

/// `log/cluster=<c>/<seq:020>.json`; sequence numbers start at 1.
pub fn log_entry(cluster: &ClusterName, seq: u64) -> Path {
    Path::from(format!("{LOG_PREFIX}/cluster={cluster}/{seq:020}.json"))
}

pub fn head_hint(cluster: &ClusterName) -> Path {
    Path::from(format!("{LOG_PREFIX}/cluster={cluster}/{HEAD_HINT_FILE}"))
}

/// What a key under `log/` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogKey {
    Entry { cluster: ClusterName, seq: u64 },
    HeadHint { cluster: ClusterName },
}

pub fn parse_log_key(path: &str) -> Option<LogKey> {
    let rest = path.strip_prefix(LOG_PREFIX)?.strip_prefix('/')?;
    let (dir, file) = rest.split_once('/')?;
    let cluster: ClusterName = dir.strip_prefix("cluster=")?.parse().ok()?;
    if file == HEAD_HINT_FILE {
        return Some(LogKey::HeadHint { cluster });
    }
    let digits = file.strip_suffix(".json")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seq: u64 = digits.parse().ok()?;
    (seq >= 1).then_some(LogKey::Entry { cluster, seq })
}

/// Cluster name from a `log/cluster=<c>/` common prefix.
pub fn cluster_of_log_dir(prefix: &str) -> Option<ClusterName> {
    prefix.trim_end_matches('/').strip_prefix(LOG_PREFIX)?.strip_prefix("/cluster=")?.parse().ok()
}

pub const CATALOG_PREFIX: &str = "_tarn/catalog";
pub const COMPACTED_PREFIX: &str = "compacted";
pub const COMPACTIONS_PREFIX: &str = "_tarn/compactions";

pub fn last_checkpoint_hint() -> Path {
    Path::from(format!("{CATALOG_PREFIX}/_last_checkpoint.json"))
}

/// `_tarn/catalog/checkpoints/<n:020>.json`; checkpoints are numbered from 1.
pub fn checkpoint_manifest(n: u64) -> Path {
    Path::from(format!("{CATALOG_PREFIX}/checkpoints/{n:020}.json"))
}

/// A day part of checkpoint `n`: `kind` is `snapshots` or `rollups`; `unique` keeps racing
/// checkpointers from ever writing the same key.
pub fn day_part(date: NaiveDate, kind: &str, n: u64, unique: &str) -> Path {
    Path::from(format!("{CATALOG_PREFIX}/days/date={}/{kind}-{n:020}-{unique}.parquet", date.format("%Y-%m-%d")))
}

/// `compacted/cluster=<c>/date=<d>/<id>.parquet`
pub fn compacted_object(cluster: &ClusterName, date: NaiveDate, id: &str) -> Path {
    Path::from(format!("{COMPACTED_PREFIX}/cluster={cluster}/date={}/{id}.parquet", date.format("%Y-%m-%d")))
}

/// `_tarn/compactions/cluster=<c>/date=<d>/<id>.json`
pub fn compaction_record(cluster: &ClusterName, date: NaiveDate, id: &str) -> Path {
    Path::from(format!("{COMPACTIONS_PREFIX}/cluster={cluster}/date={}/{id}.json", date.format("%Y-%m-%d")))
}

pub fn public_key(key_id: &str) -> Path {
    Path::from(format!("{KEYS_PREFIX}/{key_id}.pub"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evaluation_path_round_trip() {
        let p = EvaluationPath {
            cluster: "prod-eu-1".parse().unwrap(),
            date: NaiveDate::from_ymd_opt(2026, 3, 9).unwrap(),
            snapshot_id: "01890a5d-ac96-774b-bcce-b302099a8057".parse().unwrap(),
        };
        let s = p.to_path().to_string();
        assert_eq!(s, "evaluations/cluster=prod-eu-1/date=2026-03-09/01890a5d-ac96-774b-bcce-b302099a8057.parquet");
        assert_eq!(EvaluationPath::parse(&s), Some(p));
        for bad in [
            "evaluations/cluster=prod-eu-1/date=2026-3-9/01890a5d-ac96-774b-bcce-b302099a8057.parquet",
            "evaluations/cluster=prod-eu-1/01890a5d-ac96-774b-bcce-b302099a8057.parquet",
            "evaluations/cluster=Prod/date=2026-03-09/01890a5d-ac96-774b-bcce-b302099a8057.parquet",
            "evaluations/cluster=prod-eu-1/date=2026-03-09/x.parquet",
            "evaluations/cluster=prod-eu-1/date=2026-03-09/01890a5d-ac96-774b-bcce-b302099a8057.parquet.bak",
        ] {
            assert_eq!(EvaluationPath::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn log_keys() {
        let c: ClusterName = "c1".parse().unwrap();
        assert_eq!(log_entry(&c, 7).to_string(), "log/cluster=c1/00000000000000000007.json");
        assert_eq!(
            parse_log_key("log/cluster=c1/00000000000000000007.json"),
            Some(LogKey::Entry { cluster: c.clone(), seq: 7 })
        );
        assert_eq!(parse_log_key("log/cluster=c1/_head.json"), Some(LogKey::HeadHint { cluster: c.clone() }));
        assert_eq!(parse_log_key("log/cluster=c1/00000000000000000000.json"), None);
        assert_eq!(parse_log_key("log/cluster=c1/7.json"), None);
        assert_eq!(cluster_of_log_dir("log/cluster=c1/"), Some(c));
    }
}
