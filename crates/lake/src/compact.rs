//! Compaction: one object per cluster per day instead of one per scan.
//!
//! Agents write a small object per cluster per cycle; range questions over weeks then open
//! thousands of files. Compaction copies the rows of one cluster-day's snapshots, unchanged and
//! in order, into `compacted/cluster=<c>/date=<d>/<id>.parquet` (sources packed into row groups
//! of about a million rows, so usually one) and records what it was built from in
//! `_tarn/compactions/...json`. The signed originals stay where they are and remain the
//! evidence: the compacted object is derived data, recorded in the catalog checkpoint so readers
//! can use it, and `tarn evidence verify` proves each one holds exactly its sources' rows. It
//! lives outside `evaluations/`, so engines reading the Hive layout directly never count a row
//! twice.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::array::RecordBatch;
use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutMode, PutPayload};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::metadata::KeyValue;
use serde::{Deserialize, Serialize};
use tarn_model::schema::compacted_file_schema;
use tarn_model::{Clock, ClusterName, SnapshotId};

use crate::error::{LakeError, Result};
use crate::index::{CatalogIndex, CheckpointOutcome, CompactedRef, IndexedSnapshot, write_checkpoint};
use crate::paths;
use crate::store::Lake;

pub const COMPACTION_FORMAT: &str = "tarn.compaction/v1";

/// `_tarn/compactions/cluster=<c>/date=<d>/<id>.json`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactionRecord {
    pub format: String,
    pub lake_id: String,
    pub cluster: ClusterName,
    pub date: NaiveDate,
    pub object_path: String,
    pub object_size: u64,
    /// `sha256:<hex>`
    pub object_sha256: String,
    pub row_count: u64,
    pub created_at: DateTime<Utc>,
    /// In the order their rows are written; [`CompactionRecord::locations`] says where.
    pub sources: Vec<CompactionSource>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactionSource {
    pub snapshot_id: SnapshotId,
    pub seq: u64,
    pub log_entry_sha256: String,
    pub object_path: String,
    pub object_sha256: String,
    pub row_count: u64,
    /// The row group holding this source's rows. Records written when every source had its
    /// own row group lack it: source `i` is then row group `i`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_group: Option<u32>,
}

/// Sources are written in order, whole, and a row group closes after the source that brings it
/// to this many rows: a cluster-day is usually one row group. Fewer, larger row groups cost
/// less per question than one per source (1,400 row groups × 14 columns made a 7-day range
/// question pay per column chunk) and compress 4× better.
pub const COMPACTED_ROW_GROUP_ROWS: u64 = 1 << 20;

/// Where each source's rows are in the compacted object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceLocation {
    pub row_group: u32,
    pub row_groups: u32,
    /// First row within the row group.
    pub row_offset: u64,
    /// Rows in the row group.
    pub group_rows: u64,
}

impl CompactionRecord {
    /// Each source's location, in source order (old records: one row group per source).
    pub fn locations(&self) -> Vec<SourceLocation> {
        let group_of = |i: usize, s: &CompactionSource| s.row_group.unwrap_or(i as u32);
        let row_groups = self.sources.iter().enumerate().map(|(i, s)| group_of(i, s) + 1).max().unwrap_or(0);
        let mut group_rows: HashMap<u32, u64> = HashMap::new();
        for (i, s) in self.sources.iter().enumerate() {
            *group_rows.entry(group_of(i, s)).or_default() += s.row_count;
        }
        let mut offsets: HashMap<u32, u64> = HashMap::new();
        self.sources
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let g = group_of(i, s);
                let offset = offsets.entry(g).or_default();
                let at = *offset;
                *offset += s.row_count;
                SourceLocation { row_group: g, row_groups, row_offset: at, group_rows: group_rows[&g] }
            })
            .collect()
    }
}

#[derive(Debug, Clone)]
pub struct CompactOptions {
    /// Only days strictly before this one (days still being written are left alone).
    pub before: NaiveDate,
    /// Cluster-days with fewer snapshots are left as they are.
    pub min_snapshots: usize,
}

#[derive(Debug, Clone)]
pub struct CompactReport {
    pub cluster_days: usize,
    pub snapshots: usize,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Cluster-days left alone, with the reason (e.g. a source object that fails its digest).
    pub refused: Vec<String>,
    pub checkpoint: Option<CheckpointOutcome>,
}

/// Compacts every eligible cluster-day, then checkpoints so readers see the result.
/// `progress(done, total)` is called after each cluster-day.
pub async fn compact(
    lake: &Lake,
    clock: &dyn Clock,
    opts: &CompactOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<CompactReport> {
    let index = CatalogIndex::open(lake).await?;
    let Some(lake_id) = index.lake_id().map(str::to_string) else {
        return Ok(CompactReport {
            cluster_days: 0,
            snapshots: 0,
            bytes_in: 0,
            bytes_out: 0,
            refused: vec![],
            checkpoint: None,
        });
    };
    let mut groups: Vec<(ClusterName, NaiveDate, Vec<Arc<IndexedSnapshot>>)> = Vec::new();
    let dates: Vec<NaiveDate> = index.dates().into_iter().filter(|d| *d < opts.before).collect();
    for day in index.days(dates).await? {
        let mut by_cluster: BTreeMap<&ClusterName, Vec<Arc<IndexedSnapshot>>> = BTreeMap::new();
        for s in &day.snapshots {
            by_cluster.entry(&s.record.cluster).or_default().push(s.clone());
        }
        for (cluster, snaps) in by_cluster {
            let path = |s: &Arc<IndexedSnapshot>| s.compacted_object.as_ref().map(|c| c.path.clone());
            let done = snaps.iter().all(|s| path(s).is_some() && path(s) == path(&snaps[0]));
            if snaps.len() >= opts.min_snapshots.max(2) && !done {
                groups.push((cluster.clone(), day.date, snaps));
            }
        }
    }
    let total = groups.len();
    let mut updates: HashMap<SnapshotId, CompactedRef> = HashMap::new();
    let mut report =
        CompactReport { cluster_days: 0, snapshots: 0, bytes_in: 0, bytes_out: 0, refused: vec![], checkpoint: None };
    for (i, (cluster, date, snaps)) in groups.into_iter().enumerate() {
        match compact_one(lake, clock, &lake_id, &cluster, date, &snaps).await {
            Ok(Some(rec)) => {
                report.cluster_days += 1;
                report.snapshots += rec.sources.len();
                report.bytes_in += snaps.iter().map(|s| s.record.object_size).sum::<u64>();
                report.bytes_out += rec.object_size;
                for (s, at) in rec.sources.iter().zip(rec.locations()) {
                    let r = CompactedRef {
                        path: rec.object_path.clone(),
                        size: rec.object_size,
                        row_group: at.row_group,
                        row_groups: at.row_groups,
                        row_offset: at.row_offset,
                        group_rows: at.group_rows,
                    };
                    updates.insert(s.snapshot_id, r);
                }
            }
            Ok(None) => {}
            Err(e) => report.refused.push(format!("cluster {cluster} on {date}: {e}")),
        }
        progress(i + 1, total);
    }
    if !updates.is_empty() {
        for _attempt in 0..4 {
            let outcome = write_checkpoint(lake, clock, &updates).await?;
            let raced = matches!(outcome, CheckpointOutcome::Raced(_));
            report.checkpoint = Some(outcome);
            if !raced {
                break;
            }
        }
    }
    Ok(report)
}

fn compaction_id(snaps: &[Arc<IndexedSnapshot>]) -> String {
    // The layout is part of the id: sources packed into row groups (v2) give other bytes than
    // one row group per source did.
    let ids: String = std::iter::once("v2\n".to_string())
        .chain(snaps.iter().map(|s| format!("{}\n", s.record.snapshot_id)))
        .collect();
    tarn_trust::sha256_hex(ids.as_bytes())[..32].to_string()
}

/// Builds one compacted object. `Ok(None)`: an identical one exists already.
async fn compact_one(
    lake: &Lake,
    clock: &dyn Clock,
    lake_id: &str,
    cluster: &ClusterName,
    date: NaiveDate,
    snaps: &[Arc<IndexedSnapshot>],
) -> Result<Option<CompactionRecord>> {
    let id = compaction_id(snaps);
    let object = paths::compacted_object(cluster, date, &id);
    let record_path = paths::compaction_record(cluster, date, &id);
    let store = lake.store();
    let props = crate::writer::evaluation_properties_builder(vec![KeyValue::new(
        "tarn.compacted_sources".into(),
        snaps.len().to_string(),
    )])
    // Row groups close only where this function says (at source boundaries).
    .set_max_row_group_row_count(None)
    .build();
    let mut buf = Vec::new();
    let perr = |source| LakeError::Parquet { path: object.to_string(), source };
    let schema = compacted_file_schema();
    let mut w = ArrowWriter::try_new(&mut buf, schema.clone(), Some(props)).map_err(perr)?;
    let mut sources = Vec::with_capacity(snaps.len());
    let mut rows = 0;
    let (mut group, mut group_rows) = (0u32, 0u64);
    for s in snaps {
        let r = &s.record;
        let bytes = store.get(&Path::from(r.object_path.as_str())).await?.bytes().await?;
        let actual = format!("sha256:{}", tarn_trust::sha256_hex(&bytes));
        if actual != r.object_sha256 {
            return Err(LakeError::CorruptCatalog {
                path: r.object_path.clone(),
                reason: format!("digest {actual} does not match the signed {}; not compacting it", r.object_sha256),
            });
        }
        let batches = read_all(bytes, &r.object_path)?;
        let n: usize = batches.iter().map(RecordBatch::num_rows).sum();
        if n as u64 != r.row_count {
            return Err(LakeError::CorruptCatalog {
                path: r.object_path.clone(),
                reason: format!("{n} rows, the record says {}", r.row_count),
            });
        }
        if group_rows >= COMPACTED_ROW_GROUP_ROWS {
            w.flush().map_err(perr)?;
            (group, group_rows) = (group + 1, 0);
        }
        for b in &batches {
            w.write(&with_trace(&schema, b, s)?).map_err(perr)?;
        }
        rows += n as u64;
        group_rows += n as u64;
        sources.push(CompactionSource {
            snapshot_id: r.snapshot_id,
            seq: s.seq,
            log_entry_sha256: s.entry_sha256.clone(),
            object_path: r.object_path.clone(),
            object_sha256: r.object_sha256.clone(),
            row_count: n as u64,
            row_group: Some(group),
        });
    }
    w.close().map_err(perr)?;
    let body = Bytes::from(buf);
    let record = CompactionRecord {
        format: COMPACTION_FORMAT.into(),
        lake_id: lake_id.to_string(),
        cluster: cluster.clone(),
        date,
        object_path: object.to_string(),
        object_size: body.len() as u64,
        object_sha256: format!("sha256:{}", tarn_trust::sha256_hex(&body)),
        row_count: rows,
        created_at: clock.now(),
        sources,
    };
    match store.put_opts(&object, PutPayload::from(body), PutMode::Create.into()).await {
        Ok(_) => {}
        // Same sources, same id: an earlier run got this far. Use what is stored if its record
        // says so, else replace nothing and report.
        Err(object_store::Error::AlreadyExists { .. }) => {
            match read_record(lake, &record_path).await? {
                Some(existing) if existing.sources == record.sources => return Ok(Some(existing)),
                Some(_) => {
                    return Err(LakeError::CorruptCatalog {
                        path: record_path.to_string(),
                        reason: "names other sources than its id says".into(),
                    });
                }
                None => {
                    // A run that stopped between object and record: the encoding is
                    // deterministic, so the stored object must be byte-identical to ours.
                    let stored = store.get(&object).await?.bytes().await?;
                    if format!("sha256:{}", tarn_trust::sha256_hex(&stored)) != record.object_sha256 {
                        return Err(LakeError::CorruptCatalog {
                            path: object.to_string(),
                            reason: "exists without a compaction record and differs from a rebuild".into(),
                        });
                    }
                }
            }
        }
        Err(e) => return Err(e.into()),
    }
    let json = serde_json::to_vec_pretty(&record).expect("serializable");
    match store.put_opts(&record_path, PutPayload::from(json), PutMode::Create.into()).await {
        Ok(_) | Err(object_store::Error::AlreadyExists { .. }) => Ok(Some(record)),
        Err(e) => Err(e.into()),
    }
}

/// `batch` (evaluation columns) with the trace columns of snapshot `s` appended.
fn with_trace(schema: &arrow::datatypes::SchemaRef, batch: &RecordBatch, s: &IndexedSnapshot) -> Result<RecordBatch> {
    use arrow::array::{ArrayRef, StringArray, UInt64Array};
    let n = batch.num_rows();
    let mut cols: Vec<ArrayRef> = batch.columns().to_vec();
    cols.push(Arc::new(UInt64Array::from_value(s.seq, n)));
    for v in [&s.record.object_path, &s.record.object_sha256, &s.entry_sha256] {
        cols.push(Arc::new(StringArray::from_iter_values(std::iter::repeat_n(v.as_str(), n))));
    }
    Ok(RecordBatch::try_new(schema.clone(), cols)?)
}

pub(crate) fn read_all(bytes: Bytes, path: &str) -> Result<Vec<RecordBatch>> {
    let perr = |source| LakeError::ParquetRead { path: path.to_string(), source };
    ParquetRecordBatchReaderBuilder::try_new(bytes)
        .map_err(perr)?
        .with_batch_size(64 << 10)
        .build()
        .map_err(perr)?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(Into::into)
}

/// Reads a compaction record.
pub async fn read_record(lake: &Lake, path: &Path) -> Result<Option<CompactionRecord>> {
    match lake.store().get(path).await {
        Ok(r) => {
            let bytes = r.bytes().await?;
            serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| LakeError::CorruptCatalog { path: path.to_string(), reason: e.to_string() })
        }
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(n: u64, row_group: Option<u32>) -> CompactionSource {
        CompactionSource {
            snapshot_id: "01a21f0d-46f5-76c3-ba03-353980f6b832".parse().unwrap(),
            seq: 0,
            log_entry_sha256: String::new(),
            object_path: String::new(),
            object_sha256: String::new(),
            row_count: n,
            row_group,
        }
    }

    fn record(sources: Vec<CompactionSource>) -> CompactionRecord {
        CompactionRecord {
            format: COMPACTION_FORMAT.into(),
            lake_id: String::new(),
            cluster: "a".parse().unwrap(),
            date: NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
            object_path: String::new(),
            object_size: 0,
            object_sha256: String::new(),
            row_count: 0,
            created_at: DateTime::<Utc>::UNIX_EPOCH,
            sources,
        }
    }

    #[test]
    fn locations_of_packed_and_of_one_group_per_source_records() {
        let at = |g, gs, o, r| SourceLocation { row_group: g, row_groups: gs, row_offset: o, group_rows: r };
        let packed = record(vec![source(5, Some(0)), source(7, Some(0)), source(4, Some(1))]);
        assert_eq!(packed.locations(), [at(0, 2, 0, 12), at(0, 2, 5, 12), at(1, 2, 0, 4)]);
        // Records written before sources were packed name no row group: source i is group i.
        let old = record(vec![source(5, None), source(7, None)]);
        assert_eq!(old.locations(), [at(0, 2, 0, 5), at(1, 2, 0, 7)]);
        let json = serde_json::to_string(&old).unwrap();
        assert!(!json.contains("row_group"), "{json}");
        let back: CompactionRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back.locations(), old.locations());
    }
}
