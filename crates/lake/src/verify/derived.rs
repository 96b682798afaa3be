//! Derived data: the catalog (checkpoint parts and log tail) and compacted objects.
//!
//! Neither is evidence: the signed logs and objects are. But queries read them, so an auditor
//! must be able to trust that they say what the logs say. The catalog must list exactly the
//! committed snapshots with the log's digests, positions and rollups; each compacted object
//! must match its record's digest, name only committed sources, and hold exactly their rows,
//! row group by row group, with the right trace columns.

use std::collections::{BTreeMap, HashMap, HashSet};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::UInt64Type;
use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path;
use tarn_model::ClusterName;

use super::{Problem, ProblemKind, VerifyReport};
use crate::compact::{CompactionRecord, read_all};
use crate::error::Result;
use crate::index::CatalogIndex;
use crate::log::{LogEntry, RawEntry};
use crate::paths;
use crate::store::Lake;

fn catalog_problem(cluster: Option<&ClusterName>, object: String, detail: String) -> Problem {
    Problem { kind: ProblemKind::CatalogMismatch, cluster: cluster.map(|c| c.to_string()), object, detail }
}

type CompactedRefs = HashMap<String, HashMap<String, crate::compact::SourceLocation>>;

/// What a log entry says about its snapshot, for comparison with the catalog.
type Fact = (String, String, String, String, u64, String);

fn fact_of(raw: &RawEntry, e: &LogEntry) -> Fact {
    let s = &e.snapshot;
    (
        s.snapshot_id.to_string(),
        raw.sha256.clone(),
        s.object_path.clone(),
        s.object_sha256.clone(),
        s.row_count,
        s.observed_at.to_rfc3339(),
    )
}

/// Compares the catalog with the verified logs of `clusters`, and checks every compaction.
pub(super) async fn check(
    lake: &Lake,
    logs: &BTreeMap<ClusterName, Vec<RawEntry>>,
    report: &mut VerifyReport,
) -> Result<()> {
    let index = match CatalogIndex::open(lake).await {
        Ok(i) => i,
        Err(e) => {
            report.problems.push(catalog_problem(
                None,
                paths::CATALOG_PREFIX.into(),
                format!("unreadable catalog: {e}"),
            ));
            return Ok(());
        }
    };
    let checkpoint = index.checkpoint().map(|m| m.checkpoint);
    let where_ = || match checkpoint {
        Some(n) => paths::checkpoint_manifest(n).to_string(),
        None => paths::CATALOG_PREFIX.to_string(),
    };
    let snaps = match index.all().await {
        Ok(s) => s,
        Err(e) => {
            report.problems.push(catalog_problem(None, where_(), format!("unreadable catalog part: {e}")));
            return Ok(());
        }
    };
    if let Err(e) = index.ensure_rollups(&snaps).await {
        report.problems.push(catalog_problem(None, where_(), format!("rollups cannot be read: {e}")));
    }
    let keys = index.keys().snapshot();
    let mut in_catalog: HashMap<(&ClusterName, u64), &crate::IndexedSnapshot> = HashMap::new();
    for s in &snaps {
        in_catalog.insert((&s.record.cluster, s.seq), s.as_ref());
    }
    // compacted object -> snapshot id -> where its rows are, as the catalog says
    let mut compacted_refs: CompactedRefs = HashMap::new();
    for s in &snaps {
        if let Some(c) = &s.compacted_object {
            compacted_refs.entry(c.path.clone()).or_default().insert(
                s.record.snapshot_id.to_string(),
                crate::compact::SourceLocation {
                    row_group: c.row_group,
                    row_groups: c.row_groups,
                    row_offset: c.row_offset,
                    group_rows: c.group_rows,
                },
            );
        }
    }
    let mut log_facts: HashMap<String, (u64, String, String)> = HashMap::new();
    for (cluster, raws) in logs {
        for raw in raws {
            let Ok(e) = raw.parse() else { continue };
            log_facts.insert(
                e.snapshot.snapshot_id.to_string(),
                (raw.seq, raw.sha256.clone(), e.snapshot.object_sha256.clone()),
            );
            let want = fact_of(raw, &e);
            let Some(got) = in_catalog.remove(&(cluster, raw.seq)) else {
                report.problems.push(catalog_problem(
                    Some(cluster),
                    where_(),
                    format!("log entry {} (snapshot {}) is missing from the catalog", raw.seq, want.0),
                ));
                continue;
            };
            let r = &got.record;
            let have = (
                r.snapshot_id.to_string(),
                got.entry_sha256.clone(),
                r.object_path.clone(),
                r.object_sha256.clone(),
                r.row_count,
                r.observed_at.to_rfc3339(),
            );
            if have != want {
                report.problems.push(catalog_problem(
                    Some(cluster),
                    where_(),
                    format!("catalog row for log entry {} says {have:?}, the log says {want:?}", raw.seq),
                ));
                continue;
            }
            if !e.snapshot.rollups.is_empty()
                && let Some(cells) = got.rollups.get()
            {
                let mut from_catalog: Vec<(String, String, String, [u64; 5])> = cells
                    .iter()
                    .map(|c| {
                        let k = &keys[c.key as usize];
                        let n = c.status_counts();
                        (
                            k.framework.to_string(),
                            k.framework_version.to_string(),
                            k.control_id.to_string(),
                            [n.pass, n.fail, n.warn, n.skip, n.error],
                        )
                    })
                    .collect();
                let mut from_log: Vec<(String, String, String, [u64; 5])> = e
                    .snapshot
                    .rollups
                    .iter()
                    .map(|r| {
                        let n = &r.resources;
                        (
                            r.framework.clone(),
                            r.framework_version.clone(),
                            r.control_id.clone(),
                            [n.pass, n.fail, n.warn, n.skip, n.error],
                        )
                    })
                    .collect();
                from_catalog.sort();
                from_log.sort();
                if from_catalog != from_log {
                    report.problems.push(catalog_problem(
                        Some(cluster),
                        where_(),
                        format!("rollups of log entry {} differ from the signed ones", raw.seq),
                    ));
                }
            }
        }
    }
    for ((cluster, seq), s) in in_catalog {
        if logs.contains_key(cluster) {
            report.problems.push(catalog_problem(
                Some(cluster),
                where_(),
                format!(
                    "the catalog lists snapshot {} at entry {seq}, which the log does not hold",
                    s.record.snapshot_id
                ),
            ));
        }
    }
    check_compactions(lake, &log_facts, &mut compacted_refs, logs, report).await
}

async fn check_compactions(
    lake: &Lake,
    log_facts: &HashMap<String, (u64, String, String)>,
    compacted_refs: &mut CompactedRefs,
    logs: &BTreeMap<ClusterName, Vec<RawEntry>>,
    report: &mut VerifyReport,
) -> Result<()> {
    let store = lake.store();
    let records: Vec<object_store::ObjectMeta> =
        store.list(Some(&Path::from(paths::COMPACTIONS_PREFIX))).try_collect().await?;
    let mut recorded_objects: HashSet<String> = HashSet::new();
    for meta in records {
        let key = meta.location.to_string();
        let bytes = store.get(&meta.location).await?.bytes().await?;
        let rec: CompactionRecord = match serde_json::from_slice(&bytes) {
            Ok(r) => r,
            Err(e) => {
                report.problems.push(Problem {
                    kind: ProblemKind::CompactionMismatch,
                    cluster: None,
                    object: key,
                    detail: format!("unreadable compaction record: {e}"),
                });
                continue;
            }
        };
        if !logs.contains_key(&rec.cluster) {
            continue; // a cluster not being verified
        }
        recorded_objects.insert(rec.object_path.clone());
        let mut bad = |detail: String| {
            report.problems.push(Problem {
                kind: ProblemKind::CompactionMismatch,
                cluster: Some(rec.cluster.to_string()),
                object: rec.object_path.clone(),
                detail,
            })
        };
        for s in &rec.sources {
            match log_facts.get(&s.snapshot_id.to_string()) {
                Some((seq, entry, object))
                    if *seq == s.seq && *entry == s.log_entry_sha256 && *object == s.object_sha256 => {}
                Some(_) => bad(format!("source {} differs from its log entry (record {key})", s.snapshot_id)),
                None => bad(format!("source {} is not a committed snapshot (record {key})", s.snapshot_id)),
            }
        }
        // The catalog may only point at this object for its sources.
        if let Some(ids) = compacted_refs.remove(&rec.object_path) {
            let sources: HashMap<String, crate::compact::SourceLocation> =
                rec.sources.iter().zip(rec.locations()).map(|(s, at)| (s.snapshot_id.to_string(), at)).collect();
            for (id, at) in ids {
                match sources.get(&id) {
                    None => bad(format!("the catalog says it holds snapshot {id}, which is not one of its sources")),
                    Some(want) if *want != at => bad(format!(
                        "the catalog puts snapshot {id} at rows {}.. of row group {} ({} rows, {} groups); \
                         the record says rows {}.. of row group {} ({} rows, {} groups)",
                        at.row_offset,
                        at.row_group,
                        at.group_rows,
                        at.row_groups,
                        want.row_offset,
                        want.row_group,
                        want.group_rows,
                        want.row_groups
                    )),
                    Some(_) => {}
                }
            }
        }
        let body = match store.get(&Path::from(rec.object_path.as_str())).await {
            Ok(r) => r.bytes().await?,
            Err(object_store::Error::NotFound { .. }) => {
                bad(format!("missing, though {key} records it"));
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        report.objects_hashed += 1;
        report.bytes_hashed += body.len() as u64;
        let digest = format!("sha256:{}", tarn_trust::sha256_hex(&body));
        if digest != rec.object_sha256 || body.len() as u64 != rec.object_size {
            bad(format!(
                "{} bytes with {digest}; the record says {} bytes with {}",
                body.len(),
                rec.object_size,
                rec.object_sha256
            ));
            continue;
        }
        if let Err(detail) = same_rows(lake, &rec, body).await {
            bad(detail);
        }
    }
    for (object, _) in compacted_refs.drain() {
        report.problems.push(Problem {
            kind: ProblemKind::CatalogMismatch,
            cluster: None,
            object,
            detail: "the catalog points at this compacted object, but no compaction record names it".into(),
        });
    }
    let objects: Vec<object_store::ObjectMeta> =
        store.list(Some(&Path::from(paths::COMPACTED_PREFIX))).try_collect().await?;
    for meta in objects {
        let key = meta.location.to_string();
        let cluster = key.split('/').nth(1).and_then(|c| c.strip_prefix("cluster=")).and_then(|c| c.parse().ok());
        if cluster.as_ref().is_some_and(|c: &ClusterName| !logs.contains_key(c)) || recorded_objects.contains(&key) {
            continue;
        }
        report.problems.push(Problem {
            kind: ProblemKind::Unreferenced,
            cluster: cluster.map(|c| c.to_string()),
            object: key,
            detail: "no compaction record names this compacted object".into(),
        });
    }
    Ok(())
}

/// Each source's rows in the compacted object (where the record puts them) must be its rows,
/// unchanged, with the source's trace columns, and the row groups must hold nothing else.
async fn same_rows(lake: &Lake, rec: &CompactionRecord, body: bytes::Bytes) -> std::result::Result<(), String> {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let builder = ParquetRecordBatchReaderBuilder::try_new(body.clone()).map_err(|e| format!("not Parquet: {e}"))?;
    let locations = rec.locations();
    let groups = builder.metadata().num_row_groups();
    let want_groups = locations.first().map_or(0, |l| l.row_groups as usize);
    if groups != want_groups {
        return Err(format!(
            "{groups} row groups; its record places its {} sources in {want_groups}",
            rec.sources.len()
        ));
    }
    for (g, meta) in builder.metadata().row_groups().iter().enumerate() {
        let want = locations.iter().find(|l| l.row_group as usize == g).map_or(0, |l| l.group_rows);
        if meta.num_rows() as u64 != want {
            return Err(format!("row group {g} has {} rows; its sources have {want}", meta.num_rows()));
        }
    }
    let expected_schema = tarn_model::schema::compacted_file_schema();
    if builder.schema().fields() != expected_schema.fields() {
        return Err("its schema is not the compacted-object schema".into());
    }
    let eval_cols = tarn_model::schema::evaluations_file_schema().fields().len();
    let mut group: Option<(u32, RecordBatch)> = None;
    for (s, at) in rec.sources.iter().zip(&locations) {
        if group.as_ref().is_none_or(|(g, _)| *g != at.row_group) {
            let batches: Vec<RecordBatch> = ParquetRecordBatchReaderBuilder::try_new(body.clone())
                .map_err(|e| e.to_string())?
                .with_row_groups(vec![at.row_group as usize])
                .build()
                .map_err(|e| e.to_string())?
                .collect::<std::result::Result<_, _>>()
                .map_err(|e| e.to_string())?;
            let all = arrow::compute::concat_batches(&expected_schema, &batches).map_err(|e| e.to_string())?;
            group = Some((at.row_group, all));
        }
        let (_, all) = group.as_ref().expect("read above");
        let i = at.row_group;
        let offset = (at.row_offset as usize).min(all.num_rows());
        let compacted = all.slice(offset, (s.row_count as usize).min(all.num_rows() - offset));
        let source_bytes = lake
            .store()
            .get(&Path::from(s.object_path.as_str()))
            .await
            .map_err(|e| format!("source {} unreadable: {e}", s.object_path))?
            .bytes()
            .await
            .map_err(|e| e.to_string())?;
        let source = read_all(source_bytes, &s.object_path).map_err(|e| e.to_string())?;
        let source = arrow::compute::concat_batches(&tarn_model::schema::evaluations_file_schema(), &source)
            .map_err(|e| e.to_string())?;
        if compacted.num_rows() as u64 != s.row_count
            || compacted.project(&(0..eval_cols).collect::<Vec<_>>()).ok() != Some(source)
        {
            return Err(format!(
                "rows {}.. of row group {i} do not hold exactly the rows of {}",
                at.row_offset, s.object_path
            ));
        }
        let seq = compacted.column(eval_cols).as_primitive::<UInt64Type>();
        let trace = |j: usize| compacted.column(eval_cols + j).as_string::<i32>().clone();
        let (path, sha, entry) = (trace(1), trace(2), trace(3));
        let ok = (0..compacted.num_rows()).all(|r| {
            seq.value(r) == s.seq
                && path.value(r) == s.object_path
                && sha.value(r) == s.object_sha256
                && entry.value(r) == s.log_entry_sha256
                && !seq.is_null(r)
        });
        if !ok {
            return Err(format!("row group {i} carries trace columns other than those of {}", s.object_path));
        }
    }
    Ok(())
}
