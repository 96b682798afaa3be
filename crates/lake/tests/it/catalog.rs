//! The catalog index (checkpoints + log tail) against the full log, on every backend.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use tarn_lake::compact::{CompactOptions, compact};
use tarn_lake::index::rollups_from_object;
use tarn_lake::{Catalog, CatalogIndex, CheckpointOutcome, Lake, Scope, SnapshotWriter, write_checkpoint};
use tarn_model::SystemClock;
use tarn_trust::keys::SigningKeyPair;

use crate::backend::Backend;
use crate::suite::{input, populated, rows, t0, verify_with};

/// (cluster, seq, snapshot id, entry digest) of everything the index holds, in order.
async fn indexed(lake: &Lake) -> Vec<(String, u64, String, String)> {
    let index = CatalogIndex::open(lake).await.unwrap();
    assert!(index.warnings().is_empty(), "{:?}", index.warnings());
    let mut out: Vec<_> = index
        .all()
        .await
        .unwrap()
        .iter()
        .map(|s| (s.record.cluster.to_string(), s.seq, s.record.snapshot_id.to_string(), s.entry_sha256.clone()))
        .collect();
    out.sort();
    out
}

async fn logged(lake: &Lake) -> Vec<(String, u64, String, String)> {
    let mut out: Vec<_> = Catalog::load(lake, None)
        .await
        .unwrap()
        .snapshots
        .iter()
        .map(|s| (s.record.cluster.to_string(), s.seq, s.record.snapshot_id.to_string(), s.entry_sha256.clone()))
        .collect();
    out.sort();
    out
}

pub async fn index_agrees_with_the_log_across_checkpoints(b: Backend) {
    let Some(t) = b.open() else { return };
    let key = SigningKeyPair::generate();
    populated(&t.lake, &key).await;
    // No checkpoint yet: the index reads the logs in full.
    assert_eq!(indexed(&t.lake).await, logged(&t.lake).await);
    let first = write_checkpoint(&t.lake, &SystemClock, &HashMap::new()).await.unwrap();
    assert!(matches!(first, CheckpointOutcome::Written { checkpoint: 1, entries: 6, .. }), "{first:?}");
    assert_eq!(
        write_checkpoint(&t.lake, &SystemClock, &HashMap::new()).await.unwrap(),
        CheckpointOutcome::UpToDate(Some(1))
    );
    let index = CatalogIndex::open(&t.lake).await.unwrap();
    assert_eq!(index.tail_len(), 0, "everything comes from the checkpoint");
    assert_eq!(indexed(&t.lake).await, logged(&t.lake).await);
    // More entries, one new cluster: checkpoint + tail.
    let mut w = SnapshotWriter::new(&t.lake, &key, &SystemClock);
    for (c, i) in [("a", 4), ("c", 0), ("a", 5)] {
        w.write(input(c, t0() + Duration::hours(6 * i)), rows(3, i as usize)).await.unwrap();
    }
    let index = CatalogIndex::open(&t.lake).await.unwrap();
    assert_eq!(index.tail_len(), 3);
    assert_eq!(index.clusters().count(), 3);
    assert_eq!(indexed(&t.lake).await, logged(&t.lake).await);
    // Rollups from the checkpoint parts and from the tail equal a recomputation from the rows.
    for s in index.all().await.unwrap() {
        let keys = index.keys().snapshot();
        let got: Vec<(String, String, [u32; 5])> = s
            .rollups
            .get()
            .expect("rollups written at ingest")
            .iter()
            .map(|c| {
                (keys[c.key as usize].framework.to_string(), keys[c.key as usize].control_id.to_string(), c.counts)
            })
            .collect();
        let want: Vec<(String, String, [u32; 5])> = rollups_from_object(&t.lake, &s.record.object_path)
            .await
            .unwrap()
            .iter()
            .map(|r| {
                let c = r.resources;
                (r.framework.clone(), r.control_id.clone(), [c.pass, c.fail, c.warn, c.skip, c.error].map(|v| v as u32))
            })
            .collect();
        assert_eq!(got, want, "{}", s.record.snapshot_id);
    }
    let second = write_checkpoint(&t.lake, &SystemClock, &HashMap::new()).await.unwrap();
    assert!(matches!(second, CheckpointOutcome::Written { checkpoint: 2, entries: 3, .. }), "{second:?}");
    assert_eq!(CatalogIndex::open(&t.lake).await.unwrap().tail_len(), 0);
    assert_eq!(indexed(&t.lake).await, logged(&t.lake).await);
    let report = verify_with(&t.lake, &key).await;
    assert!(report.ok(), "{:#?}", report.problems);
}

pub async fn racing_checkpointers_lose_nothing(b: Backend) {
    let Some(t) = b.open() else { return };
    let key = SigningKeyPair::generate();
    populated(&t.lake, &key).await;
    let none = HashMap::new();
    let (x, y) =
        tokio::join!(write_checkpoint(&t.lake, &SystemClock, &none), write_checkpoint(&t.lake, &SystemClock, &none));
    let outcomes = [x.unwrap(), y.unwrap()];
    let written = outcomes.iter().filter(|o| matches!(o, CheckpointOutcome::Written { .. })).count();
    assert!(written >= 1, "{outcomes:?}");
    assert_eq!(indexed(&t.lake).await, logged(&t.lake).await);
}

fn at(h: i64) -> DateTime<Utc> {
    t0() + Duration::hours(h)
}

pub async fn point_in_time_lookups(b: Backend) {
    let Some(t) = b.open() else { return };
    let key = SigningKeyPair::generate();
    let mut w = SnapshotWriter::new(&t.lake, &key, &SystemClock);
    // a: t0, t0+6h, and two snapshots at exactly t0+30h (the later commit wins the tie);
    // b: t0+1h only (stale afterwards); c: first appears at t0+48h.
    let plan = [("a", 0), ("a", 6), ("b", 1), ("a", 30), ("a", 30), ("c", 48)];
    let mut ids = Vec::new();
    for (c, h) in plan {
        ids.push(w.write(input(c, at(h)), rows(2, h as usize)).await.unwrap().record.snapshot_id);
    }
    let day = Duration::hours(24);
    for checkpointed in [false, true] {
        if checkpointed {
            write_checkpoint(&t.lake, &SystemClock, &HashMap::new()).await.unwrap();
        }
        let index = CatalogIndex::open(&t.lake).await.unwrap();
        let look = |h: i64, strict: bool| {
            let index = index.clone();
            async move {
                index
                    .latest_at(at(h), strict, &Scope::All, day)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|p| (p.snapshot.record.cluster.to_string(), p.snapshot.record.snapshot_id, p.stale))
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(look(-1, false).await, vec![], "before anything");
        assert_eq!(look(0, false).await, vec![("a".into(), ids[0], false)], "inclusive at the exact time");
        assert_eq!(look(0, true).await, vec![], "strict excludes it");
        assert_eq!(look(5, false).await, vec![("a".into(), ids[0], false), ("b".into(), ids[2], false)]);
        assert_eq!(
            look(30, false).await,
            vec![("a".into(), ids[4], false), ("b".into(), ids[2], true)],
            "tie → later commit; b stale"
        );
        // Next day, c appears; a's newest is on an earlier day than the one asked about.
        assert_eq!(
            look(50, false).await,
            vec![("a".into(), ids[4], false), ("b".into(), ids[2], true), ("c".into(), ids[5], false)]
        );
        let only_c = index.latest_at(at(50), false, &Scope::Cluster("c".parse().unwrap()), day).await.unwrap();
        assert_eq!(only_c.len(), 1);
        let group = index.latest_at(at(50), false, &Scope::Group("/acme".parse().unwrap()), day).await.unwrap();
        assert_eq!(group.len(), 3);
        let none = index.latest_at(at(50), false, &Scope::Group("/other".parse().unwrap()), day).await.unwrap();
        assert!(none.is_empty());
        let between = index.between(at(1), at(30), &Scope::All).await.unwrap();
        let got: Vec<_> = between.iter().map(|s| s.record.snapshot_id).collect();
        assert_eq!(got, vec![ids[1], ids[3], ids[4], ids[2]], "inclusive range, by cluster then time");
    }
}

pub async fn compaction_keeps_every_row_and_verifies(b: Backend) {
    let Some(t) = b.open() else { return };
    let key = SigningKeyPair::generate();
    let mut w = SnapshotWriter::new(&t.lake, &key, &SystemClock);
    for h in [0, 6, 12, 18, 24, 30] {
        w.write(input("a", at(h)), rows(3, h as usize)).await.unwrap();
    }
    let before = indexed(&t.lake).await;
    let opts = CompactOptions { before: (t0() + Duration::days(1)).date_naive(), min_snapshots: 2 };
    let report = compact(&t.lake, &SystemClock, &opts, &|_, _| {}).await.unwrap();
    assert_eq!((report.cluster_days, report.snapshots), (1, 3), "{report:?}");
    assert!(report.refused.is_empty());
    // Idempotent.
    let again = compact(&t.lake, &SystemClock, &opts, &|_, _| {}).await.unwrap();
    assert_eq!(again.cluster_days, 0);
    assert_eq!(indexed(&t.lake).await, before, "compaction changes no snapshot");
    let index = CatalogIndex::open(&t.lake).await.unwrap();
    let snaps = index.all().await.unwrap();
    let compacted: Vec<_> = snaps.iter().filter_map(|s| s.compacted_object.as_ref().map(|c| c.path.clone())).collect();
    assert_eq!(compacted.len(), 3);
    assert!(compacted.iter().all(|c| c == &compacted[0] && c.starts_with("compacted/cluster=a/date=2026-03-01/")));
    // The compacted object holds exactly the three sources' rows.
    let bytes = t.lake.store().get(&compacted[0].as_str().into()).await.unwrap().bytes().await.unwrap();
    let meta = parquet::file::reader::SerializedFileReader::new(bytes).unwrap();
    let md = parquet::file::reader::FileReader::metadata(&meta);
    assert_eq!(md.num_row_groups(), 1, "a cluster-day's sources share one row group");
    let total: i64 = md.row_groups().iter().map(|g| g.num_rows()).sum();
    let mut sources: Vec<_> = snaps.iter().filter(|s| s.compacted_object.is_some()).collect();
    assert_eq!(total as u64, sources.iter().map(|s| s.record.row_count).sum::<u64>());
    // The catalog places each source's rows, in log order, one after the other.
    sources.sort_by_key(|s| s.seq);
    let mut offset = 0;
    for s in sources {
        let c = s.compacted_object.as_ref().unwrap();
        assert_eq!((c.row_group, c.row_groups, c.row_offset, c.group_rows), (0, 1, offset, total as u64));
        offset += s.record.row_count;
    }
    let report = verify_with(&t.lake, &key).await;
    assert!(report.ok(), "{:#?}", report.problems);
}

/// The catalog and compacted objects are derived data, but queries read them: verification
/// must catch them saying anything other than the logs.
pub async fn derived_data_tampering_is_detected(b: Backend) {
    use std::sync::Arc;

    use object_store::PutPayload;
    use object_store::path::Path;
    use tarn_lake::IndexedSnapshot;
    use tarn_lake::verify::ProblemKind;

    let Some(t) = b.open() else { return };
    let key = SigningKeyPair::generate();
    let mut w = SnapshotWriter::new(&t.lake, &key, &SystemClock);
    for h in [0, 6, 12, 30] {
        w.write(input("a", at(h)), rows(3, h as usize)).await.unwrap();
    }
    let opts = CompactOptions { before: (t0() + Duration::days(3)).date_naive(), min_snapshots: 2 };
    compact(&t.lake, &SystemClock, &opts, &|_, _| {}).await.unwrap();
    assert!(verify_with(&t.lake, &key).await.ok());
    let store = t.lake.store();
    let get = |p: &str| {
        let p = Path::from(p);
        async move { store.get(&p).await.unwrap().bytes().await.unwrap() }
    };
    let kinds = |r: &tarn_lake::verify::VerifyReport| r.problems.iter().map(|p| p.kind).collect::<Vec<_>>();

    // 1. A forged compacted object: one row dropped, record digest and size updated to match.
    let index = CatalogIndex::open(&t.lake).await.unwrap();
    let compacted = index.all().await.unwrap().iter().find_map(|s| s.compacted_object.clone()).unwrap();
    let records: Vec<_> = store.list(Some(&Path::from("_tarn/compactions"))).try_collect().await.unwrap();
    assert_eq!(records.len(), 1);
    let record_path = records[0].location.clone();
    let (original_object, original_record) = (get(&compacted.path).await, get(record_path.as_ref()).await);
    let all = {
        let r =
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(original_object.clone()).unwrap();
        let schema = r.schema().clone();
        let batches: Vec<_> = r.build().unwrap().map(|b| b.unwrap()).collect();
        arrow::compute::concat_batches(&schema, &batches).unwrap()
    };
    // The second source starts at row `compacted.row_offset` of some source: drop its first
    // row and repeat the object's last row, so the row count still matches.
    let second =
        index.all().await.unwrap().iter().filter_map(|s| s.compacted_object.clone()).find(|c| c.row_offset > 0);
    let cut = second.unwrap().row_offset as usize;
    let n = all.num_rows();
    let forged_rows = arrow::compute::concat_batches(
        &all.schema(),
        &[all.slice(0, cut), all.slice(cut + 1, n - cut - 1), all.slice(n - 1, 1)],
    )
    .unwrap();
    let mut forged = Vec::new();
    {
        let mut pw = parquet::arrow::ArrowWriter::try_new(&mut forged, all.schema(), None).unwrap();
        pw.write(&forged_rows).unwrap();
        pw.close().unwrap();
    }
    let mut record: serde_json::Value = serde_json::from_slice(&original_record).unwrap();
    record["object_sha256"] = format!("sha256:{}", tarn_trust::sha256_hex(&forged)).into();
    record["object_size"] = forged.len().into();
    store.put(&Path::from(compacted.path.as_str()), PutPayload::from(forged)).await.unwrap();
    store.put(&record_path, PutPayload::from(serde_json::to_vec(&record).unwrap())).await.unwrap();
    let report = verify_with(&t.lake, &key).await;
    assert!(kinds(&report).contains(&ProblemKind::CompactionMismatch), "{:#?}", report.problems);
    assert!(
        report.problems.iter().any(|p| p.detail.contains(&format!("rows {cut}.. of row group 0 do not hold"))),
        "{:#?}",
        report.problems
    );
    store.put(&Path::from(compacted.path.as_str()), PutPayload::from(original_object.clone())).await.unwrap();
    store.put(&record_path, PutPayload::from(original_record.clone())).await.unwrap();
    assert!(verify_with(&t.lake, &key).await.ok());

    // 2. The compacted object changed behind its record's back.
    let mut damaged = original_object.to_vec();
    damaged[100] ^= 1;
    store.put(&Path::from(compacted.path.as_str()), PutPayload::from(damaged)).await.unwrap();
    let report = verify_with(&t.lake, &key).await;
    assert_eq!(kinds(&report), [ProblemKind::CompactionMismatch], "{:#?}", report.problems);
    store.put(&Path::from(compacted.path.as_str()), PutPayload::from(original_object)).await.unwrap();

    // 3. A compacted object nobody recorded.
    let stray = Path::from("compacted/cluster=a/date=2026-03-01/stray.parquet");
    store.put(&stray, PutPayload::from_static(b"PAR1")).await.unwrap();
    let report = verify_with(&t.lake, &key).await;
    assert_eq!(kinds(&report), [ProblemKind::Unreferenced], "{:#?}", report.problems);
    store.delete(&stray).await.unwrap();

    // 4. A checkpoint part that leaves out a snapshot and misstates another's digest.
    let manifest = index.checkpoint().unwrap().clone();
    let part = manifest.days.iter().find(|d| d.snapshots == 3).unwrap();
    let day = index.day(part.date).await.unwrap();
    let edited: Vec<Arc<IndexedSnapshot>> = day.snapshots[1..]
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut record = s.record.clone();
            if i == 0 {
                record.object_sha256 = format!("sha256:{}", "0".repeat(64));
            }
            Arc::new(IndexedSnapshot {
                record,
                seq: s.seq,
                entry_sha256: s.entry_sha256.clone(),
                compacted_object: s.compacted_object.clone(),
                rollups: Default::default(),
            })
        })
        .collect();
    let original_part = get(&part.snapshots_object).await;
    let bytes = tarn_lake::index::encode_part(&tarn_lake::index::snapshots_batch(&edited).unwrap(), "part").unwrap();
    store.put(&Path::from(part.snapshots_object.as_str()), PutPayload::from(bytes)).await.unwrap();
    let report = verify_with(&t.lake, &key).await;
    let details: Vec<&str> = report.problems.iter().map(|p| p.detail.as_str()).collect();
    assert!(report.problems.iter().all(|p| p.kind == ProblemKind::CatalogMismatch), "{:#?}", report.problems);
    assert!(details.iter().any(|d| d.contains("missing from the catalog")), "{details:#?}");
    assert!(details.iter().any(|d| d.contains("the log says")), "{details:#?}");
    store.put(&Path::from(part.snapshots_object.as_str()), PutPayload::from(original_part)).await.unwrap();
    assert!(verify_with(&t.lake, &key).await.ok());
}

/// Day parts written before compacted objects carried sizes and row groups still open: their
/// snapshots read from the originals.
pub async fn parts_without_compaction_columns_still_open(b: Backend) {
    use object_store::PutPayload;
    use object_store::path::Path;

    let Some(t) = b.open() else { return };
    let key = SigningKeyPair::generate();
    populated(&t.lake, &key).await;
    write_checkpoint(&t.lake, &SystemClock, &HashMap::new()).await.unwrap();
    let want = indexed(&t.lake).await;
    let index = CatalogIndex::open(&t.lake).await.unwrap();
    let manifest = index.checkpoint().unwrap().clone();
    for part in &manifest.days {
        let bytes =
            t.lake.store().get(&Path::from(part.snapshots_object.as_str())).await.unwrap().bytes().await.unwrap();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap();
        let batches: Vec<_> = reader.build().unwrap().map(|b| b.unwrap()).collect();
        let schema = batches[0].schema();
        let keep: Vec<usize> = (0..schema.fields().len())
            .filter(|i| {
                !matches!(
                    schema.field(*i).name().as_str(),
                    "compacted_size" | "compacted_row_group" | "compacted_row_groups"
                )
            })
            .collect();
        let old: Vec<_> = batches.iter().map(|b| b.project(&keep).unwrap()).collect();
        let old = arrow::compute::concat_batches(&old[0].schema(), &old).unwrap();
        let encoded = tarn_lake::index::encode_part(&old, "old part").unwrap();
        t.lake.store().put(&Path::from(part.snapshots_object.as_str()), PutPayload::from(encoded)).await.unwrap();
    }
    assert_eq!(indexed(&t.lake).await, want);
    let index = CatalogIndex::open(&t.lake).await.unwrap();
    assert!(index.all().await.unwrap().iter().all(|s| s.compacted_object.is_none()));
}
