//! Day parts: the snapshots observed on one UTC day and their rollups, as two small Parquet
//! objects (schemas `snapshots.v1.json` and `rollups.v1.json`, readable by any engine).

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, RecordBatch, StringArray, StringBuilder, TimestampMicrosecondArray, UInt64Array,
};
use arrow::datatypes::{TimestampMicrosecondType, UInt64Type};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use tarn_model::schema::{rollups_schema, snapshots_schema};
use tarn_model::{AgentInfo, SnapshotRecord, StatusCounts};

use super::snapshot::{CompactedRef, ControlKey, ControlKeys, IndexedSnapshot, RollupCell};
use crate::error::{LakeError, Result};

/// The `snapshots` rows of `snaps`.
pub fn snapshots_batch(snaps: &[Arc<IndexedSnapshot>]) -> Result<RecordBatch> {
    let s = |f: &dyn Fn(&IndexedSnapshot) -> &str| {
        let mut b = StringBuilder::with_capacity(snaps.len(), snaps.len() * 24);
        for x in snaps {
            b.append_value(f(x));
        }
        Arc::new(b.finish()) as ArrayRef
    };
    let u = |f: &dyn Fn(&IndexedSnapshot) -> u64| {
        Arc::new(UInt64Array::from_iter_values(snaps.iter().map(|x| f(x)))) as ArrayRef
    };
    let t = |f: &dyn Fn(&IndexedSnapshot) -> DateTime<Utc>| {
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(snaps.iter().map(|x| f(x).timestamp_micros()))
                .with_timezone("UTC"),
        ) as ArrayRef
    };
    let ids: Vec<String> = snaps.iter().map(|x| x.record.snapshot_id.to_string()).collect();
    let frameworks: Vec<String> = snaps.iter().map(|x| x.record.frameworks.join(",")).collect();
    Ok(RecordBatch::try_new(
        snapshots_schema(),
        vec![
            Arc::new(StringArray::from_iter_values(&ids)),
            s(&|x| x.record.cluster.as_str()),
            s(&|x| x.record.group_path.as_str()),
            u(&|x| x.seq),
            t(&|x| x.record.observed_at),
            t(&|x| x.record.evaluated_at),
            t(&|x| x.record.ingested_at),
            s(&|x| &x.record.agent.id),
            s(&|x| &x.record.agent.version),
            s(&|x| &x.record.policy_digest),
            s(&|x| &x.record.inventory_digest),
            Arc::new(StringArray::from_iter_values(&frameworks)),
            u(&|x| x.record.row_count),
            u(&|x| x.record.status_counts.pass),
            u(&|x| x.record.status_counts.fail),
            u(&|x| x.record.status_counts.warn),
            u(&|x| x.record.status_counts.skip),
            u(&|x| x.record.status_counts.error),
            s(&|x| &x.record.object_path),
            u(&|x| x.record.object_size),
            s(&|x| &x.record.object_sha256),
            s(&|x| &x.entry_sha256),
            Arc::new(StringArray::from_iter(
                snaps.iter().map(|x| x.compacted_object.as_ref().map(|c| c.path.as_str())),
            )),
            Arc::new(UInt64Array::from_iter(snaps.iter().map(|x| x.compacted_object.as_ref().map(|c| c.size)))),
            Arc::new(UInt64Array::from_iter(
                snaps.iter().map(|x| x.compacted_object.as_ref().map(|c| u64::from(c.row_group))),
            )),
            Arc::new(UInt64Array::from_iter(
                snaps.iter().map(|x| x.compacted_object.as_ref().map(|c| u64::from(c.row_groups))),
            )),
            Arc::new(UInt64Array::from_iter(snaps.iter().map(|x| x.compacted_object.as_ref().map(|c| c.row_offset)))),
            Arc::new(UInt64Array::from_iter(snaps.iter().map(|x| x.compacted_object.as_ref().map(|c| c.group_rows)))),
        ],
    )?)
}

/// The `rollups` rows of `snaps` (snapshots whose rollups are unknown contribute none).
pub fn rollups_batch(snaps: &[Arc<IndexedSnapshot>], keys: &[ControlKey]) -> Result<RecordBatch> {
    let n: usize = snaps.iter().map(|s| s.rollups.get().map_or(0, |r| r.len())).sum();
    let mut id = StringBuilder::with_capacity(n, n * 36);
    let mut cluster = StringBuilder::with_capacity(n, n * 8);
    let mut group = StringBuilder::with_capacity(n, n * 8);
    let mut seq = Vec::with_capacity(n);
    let mut observed = Vec::with_capacity(n);
    let mut fw = StringBuilder::with_capacity(n, n * 8);
    let mut ver = StringBuilder::with_capacity(n, n * 4);
    let mut ctl = StringBuilder::with_capacity(n, n * 8);
    let mut counts: [Vec<u64>; 5] = Default::default();
    for s in snaps {
        let Some(cells) = s.rollups.get() else { continue };
        let sid = s.record.snapshot_id.to_string();
        for c in cells.iter() {
            let k = &keys[c.key as usize];
            id.append_value(&sid);
            cluster.append_value(s.record.cluster.as_str());
            group.append_value(s.record.group_path.as_str());
            seq.push(s.seq);
            observed.push(s.record.observed_at.timestamp_micros());
            fw.append_value(&k.framework);
            ver.append_value(&k.framework_version);
            ctl.append_value(&k.control_id);
            for (i, v) in c.counts.iter().enumerate() {
                counts[i].push(u64::from(*v));
            }
        }
    }
    let [p, f, w, sk, e] = counts;
    Ok(RecordBatch::try_new(
        rollups_schema(),
        vec![
            Arc::new(id.finish()),
            Arc::new(cluster.finish()),
            Arc::new(group.finish()),
            Arc::new(UInt64Array::from(seq)),
            Arc::new(TimestampMicrosecondArray::from(observed).with_timezone("UTC")),
            Arc::new(fw.finish()),
            Arc::new(ver.finish()),
            Arc::new(ctl.finish()),
            Arc::new(UInt64Array::from(p)),
            Arc::new(UInt64Array::from(f)),
            Arc::new(UInt64Array::from(w)),
            Arc::new(UInt64Array::from(sk)),
            Arc::new(UInt64Array::from(e)),
        ],
    )?)
}

/// Encodes one batch as a small zstd Parquet object.
pub fn encode(batch: &RecordBatch, path: &str) -> Result<Bytes> {
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).expect("valid zstd level")))
        .build();
    let perr = |source| LakeError::Parquet { path: path.to_string(), source };
    let mut buf = Vec::with_capacity(64 << 10);
    let mut w = ArrowWriter::try_new(&mut buf, batch.schema(), Some(props)).map_err(perr)?;
    w.write(batch).map_err(perr)?;
    w.close().map_err(perr)?;
    Ok(Bytes::from(buf))
}

fn read_batches(bytes: Bytes, path: &str) -> Result<Vec<RecordBatch>> {
    let perr = |source| LakeError::ParquetRead { path: path.to_string(), source };
    let reader =
        ParquetRecordBatchReaderBuilder::try_new(bytes).map_err(perr)?.with_batch_size(8192).build().map_err(perr)?;
    reader.collect::<std::result::Result<Vec<_>, _>>().map_err(Into::into)
}

fn corrupt(path: &str, reason: impl std::fmt::Display) -> LakeError {
    LakeError::CorruptCatalog { path: path.to_string(), reason: reason.to_string() }
}

fn col<'a>(b: &'a RecordBatch, name: &str, path: &str) -> Result<&'a ArrayRef> {
    b.column_by_name(name).ok_or_else(|| corrupt(path, format!("missing column {name}")))
}

fn strings<'a>(b: &'a RecordBatch, name: &str, path: &str) -> Result<&'a StringArray> {
    col(b, name, path)?.as_string_opt::<i32>().ok_or_else(|| corrupt(path, format!("column {name} is not utf8")))
}

fn u64s<'a>(b: &'a RecordBatch, name: &str, path: &str) -> Result<&'a UInt64Array> {
    col(b, name, path)?
        .as_primitive_opt::<UInt64Type>()
        .ok_or_else(|| corrupt(path, format!("column {name} is not uint64")))
}

fn times<'a>(b: &'a RecordBatch, name: &str, path: &str) -> Result<&'a TimestampMicrosecondArray> {
    col(b, name, path)?
        .as_primitive_opt::<TimestampMicrosecondType>()
        .ok_or_else(|| corrupt(path, format!("column {name} is not a timestamp")))
}

fn micros(v: i64, path: &str) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(v).ok_or_else(|| corrupt(path, format!("timestamp {v} out of range")))
}

/// Decodes a snapshots part.
pub fn decode_snapshots(bytes: Bytes, path: &str) -> Result<Vec<IndexedSnapshot>> {
    let mut out = Vec::new();
    for b in read_batches(bytes, path)? {
        let id = strings(&b, "snapshot_id", path)?;
        let cluster = strings(&b, "cluster", path)?;
        let group = strings(&b, "group_path", path)?;
        let seq = u64s(&b, "seq", path)?;
        let [obs, eval, ing] = ["observed_at", "evaluated_at", "ingested_at"].map(|n| times(&b, n, path));
        let (obs, eval, ing) = (obs?, eval?, ing?);
        let agent_id = strings(&b, "agent_id", path)?;
        let agent_version = strings(&b, "agent_version", path)?;
        let policy = strings(&b, "policy_digest", path)?;
        let inventory = strings(&b, "inventory_digest", path)?;
        let frameworks = strings(&b, "frameworks", path)?;
        let rows = u64s(&b, "row_count", path)?;
        let counts: Vec<&UInt64Array> = ["pass_count", "fail_count", "warn_count", "skip_count", "error_count"]
            .iter()
            .map(|n| u64s(&b, n, path))
            .collect::<Result<_>>()?;
        let object_path = strings(&b, "object_path", path)?;
        let object_size = u64s(&b, "object_size", path)?;
        let object_sha = strings(&b, "object_sha256", path)?;
        let entry_sha = strings(&b, "log_entry_sha256", path)?;
        // Parts written before compaction carried sizes and row groups lack these columns: their
        // snapshots are read from the originals until the next checkpoint rewrites the day.
        let optional =
            |name: &str| if b.column_by_name(name).is_some() { u64s(&b, name, path).map(Some) } else { Ok(None) };
        let compacted = strings(&b, "compacted_object", path)?;
        let (compacted_size, compacted_rg, compacted_rgs) =
            (optional("compacted_size")?, optional("compacted_row_group")?, optional("compacted_row_groups")?);
        // Parts written when every source had its own row group lack where in the group it is.
        let (row_offset, group_rows) = (optional("compacted_row_offset")?, optional("compacted_group_rows")?);
        for i in 0..b.num_rows() {
            let fws = frameworks.value(i);
            let record = SnapshotRecord {
                snapshot_id: id.value(i).parse().map_err(|e| corrupt(path, e))?,
                cluster: cluster.value(i).parse().map_err(|e| corrupt(path, e))?,
                group_path: group.value(i).parse().map_err(|e| corrupt(path, e))?,
                observed_at: micros(obs.value(i), path)?,
                evaluated_at: micros(eval.value(i), path)?,
                ingested_at: micros(ing.value(i), path)?,
                agent: AgentInfo { id: agent_id.value(i).to_string(), version: agent_version.value(i).to_string() },
                policy_digest: policy.value(i).to_string(),
                inventory_digest: inventory.value(i).to_string(),
                frameworks: if fws.is_empty() { Vec::new() } else { fws.split(',').map(str::to_string).collect() },
                row_count: rows.value(i),
                status_counts: StatusCounts {
                    pass: counts[0].value(i),
                    fail: counts[1].value(i),
                    warn: counts[2].value(i),
                    skip: counts[3].value(i),
                    error: counts[4].value(i),
                },
                object_path: object_path.value(i).to_string(),
                object_size: object_size.value(i),
                object_sha256: object_sha.value(i).to_string(),
                rollups: Vec::new(),
            };
            out.push(IndexedSnapshot {
                record,
                seq: seq.value(i),
                entry_sha256: entry_sha.value(i).to_string(),
                compacted_object: match (compacted_size, compacted_rg, compacted_rgs) {
                    (Some(size), Some(rg), Some(rgs))
                        if compacted.is_valid(i) && size.is_valid(i) && rg.is_valid(i) && rgs.is_valid(i) =>
                    {
                        Some(CompactedRef {
                            path: compacted.value(i).to_string(),
                            size: size.value(i),
                            row_group: rg.value(i) as u32,
                            row_groups: rgs.value(i) as u32,
                            row_offset: row_offset.filter(|a| a.is_valid(i)).map_or(0, |a| a.value(i)),
                            group_rows: group_rows.filter(|a| a.is_valid(i)).map_or(rows.value(i), |a| a.value(i)),
                        })
                    }
                    _ => None,
                },
                rollups: Default::default(),
            });
        }
    }
    Ok(out)
}

/// Decodes a rollups part into cells per snapshot id, in stored order.
pub fn decode_rollups(
    bytes: Bytes,
    path: &str,
    keys: &ControlKeys,
) -> Result<std::collections::HashMap<String, Vec<RollupCell>>> {
    let mut out: std::collections::HashMap<String, Vec<RollupCell>> = Default::default();
    for b in read_batches(bytes, path)? {
        let id = strings(&b, "snapshot_id", path)?;
        let fw = strings(&b, "framework", path)?;
        let ver = strings(&b, "framework_version", path)?;
        let ctl = strings(&b, "control_id", path)?;
        let counts: Vec<&UInt64Array> =
            ["pass", "fail", "warn", "skip", "error"].iter().map(|n| u64s(&b, n, path)).collect::<Result<_>>()?;
        let clamp = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        for i in 0..b.num_rows() {
            let cell = RollupCell {
                key: keys.intern(fw.value(i), ver.value(i), ctl.value(i)),
                counts: [0, 1, 2, 3, 4].map(|k| clamp(counts[k].value(i))),
            };
            out.entry(id.value(i).to_string()).or_default().push(cell);
        }
    }
    Ok(out)
}
