use bytes::Bytes;
use chrono::{DateTime, Duration, TimeZone, Utc};
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutMode, PutPayload};
use parquet::file::reader::{FileReader, SerializedFileReader};
use tarn_lake::verify::{VerifyOptions, VerifyReport, verify};
use tarn_lake::{Catalog, Lake, SnapshotInput, SnapshotWriter, WrittenSnapshot, paths};
use tarn_model::{AgentInfo, EvaluationRow, Severity, Status, SystemClock};
use tarn_trust::keys::SigningKeyPair;

use crate::backend::Backend;

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 6, 0, 0).unwrap()
}

/// `workloads` × 2 containers × 3 controls, with some failures, deliberately unsorted.
pub fn rows(workloads: usize, seed: usize) -> Vec<EvaluationRow> {
    let mut out = Vec::new();
    for w in (0..workloads).rev() {
        for c in ["sidecar", "app"] {
            for (i, control) in ["runAsNonRoot", "privileged", "hostPorts"].iter().enumerate() {
                let fail = (w + i + seed).is_multiple_of(5);
                out.push(EvaluationRow {
                    namespace: format!("ns-{}", w % 3),
                    workload_kind: "Deployment".into(),
                    workload_name: format!("wl-{w:03}"),
                    container: c.into(),
                    image: format!("ghcr.io/acme/{c}:1.{w}"),
                    image_digest: String::new(),
                    framework: "pss-restricted".into(),
                    framework_version: "v1.37".into(),
                    control_id: control.to_string(),
                    status: if fail { Status::Fail } else { Status::Pass },
                    severity: Severity::Medium,
                    message: if fail { format!("{control} failed for {c}") } else { String::new() },
                });
            }
        }
    }
    out
}

pub fn input(cluster: &str, observed_at: DateTime<Utc>) -> SnapshotInput {
    SnapshotInput {
        cluster: cluster.parse().unwrap(),
        group_path: "/acme/prod".parse().unwrap(),
        observed_at,
        evaluated_at: observed_at + Duration::seconds(5),
        agent: AgentInfo { id: "test-agent".into(), version: "0.0.0".into() },
        policy_digest: format!("sha256:{}", "ab".repeat(32)),
        inventory_digest: format!("sha256:{}", "cd".repeat(32)),
        frameworks: vec!["pss-restricted@v1.37".into()],
    }
}

pub async fn write(lake: &Lake, key: &SigningKeyPair, cluster: &str, i: usize) -> WrittenSnapshot {
    let mut w = SnapshotWriter::new(lake, key, &SystemClock);
    w.write(input(cluster, t0() + Duration::hours(6 * i as i64)), rows(4 + i, i)).await.unwrap()
}

/// A lake with two clusters: `a` with 4 snapshots, `b` with 2.
pub async fn populated(lake: &Lake, key: &SigningKeyPair) -> Vec<WrittenSnapshot> {
    let mut out = Vec::new();
    for i in 0..4 {
        out.push(write(lake, key, "a", i).await);
    }
    for i in 0..2 {
        out.push(write(lake, key, "b", i).await);
    }
    out
}

/// Strict options: no grace for in-flight writes (tests write and verify back to back).
pub fn strict(key: &SigningKeyPair) -> VerifyOptions {
    VerifyOptions { keys: vec![key.public()], in_flight_grace: chrono::Duration::zero(), ..Default::default() }
}

pub async fn verify_with(lake: &Lake, key: &SigningKeyPair) -> VerifyReport {
    verify(lake, &strict(key)).await.unwrap()
}

pub async fn conditional_create_is_exclusive(b: Backend) {
    let Some(t) = b.open() else { return };
    let p = Path::from("conformance/create.json");
    let store = t.lake.store();
    store.put_opts(&p, PutPayload::from_static(b"1"), PutMode::Create.into()).await.unwrap();
    let second = store.put_opts(&p, PutPayload::from_static(b"2"), PutMode::Create.into()).await;
    assert!(matches!(second, Err(object_store::Error::AlreadyExists { .. })), "{second:?}");
    let got = store.get(&p).await.unwrap().bytes().await.unwrap();
    assert_eq!(got, Bytes::from_static(b"1"), "a failed create must not overwrite");
}

pub async fn write_read_and_verify(b: Backend) {
    let Some(t) = b.open() else { return };
    let key = SigningKeyPair::generate();
    let written = populated(&t.lake, &key).await;
    let cat = Catalog::load(&t.lake, None).await.unwrap();
    assert!(cat.warnings.is_empty());
    let got: Vec<(String, u64)> = cat.snapshots.iter().map(|s| (s.record.cluster.to_string(), s.seq)).collect();
    assert_eq!(got, [("a", 1), ("a", 2), ("a", 3), ("a", 4), ("b", 1), ("b", 2)].map(|(c, s)| (c.to_string(), s)));
    for (w, s) in written.iter().zip(&cat.snapshots) {
        assert_eq!(w.record, s.record);
        assert_eq!(w.commit.entry_sha256, s.entry_sha256);
        let meta = t.lake.store().head(&Path::from(s.record.object_path.as_str())).await.unwrap();
        assert_eq!(meta.size, s.record.object_size);
    }
    assert_eq!(written[0].record.row_count, 4 * 2 * 3);
    assert_eq!(written[0].record.status_counts.total(), written[0].record.row_count);
    let only_b = Catalog::load(&t.lake, Some(&["b".parse().unwrap()])).await.unwrap();
    assert_eq!(only_b.snapshots.len(), 2);

    let report = verify_with(&t.lake, &key).await;
    assert!(report.ok(), "{:#?}", report.problems);
    assert_eq!((report.clusters, report.entries, report.objects_hashed), (2, 6, 6));
    assert_eq!(report.witness.heads["a"].seq, 4);
    // The descriptor and the public key were written once.
    assert!(t.lake.descriptor().await.unwrap().is_some());
    t.lake.store().head(&paths::public_key(&key.public().key_id())).await.unwrap();
}

pub async fn parquet_layout_and_metadata(b: Backend) {
    let Some(t) = b.open() else { return };
    let key = SigningKeyPair::generate();
    // An injected clock fixes ingested_at (and the snapshot id's time part).
    let ingest = t0() + Duration::days(3);
    let clock = tarn_model::FixedClock::new(ingest);
    let w = SnapshotWriter::new(&t.lake, &key, &clock)
        .write(input("a", t0() + Duration::hours(12)), rows(6, 2))
        .await
        .unwrap();
    assert_eq!(w.record.ingested_at, ingest);
    assert_eq!(w.record.snapshot_id.created_at(), Some(ingest));
    let path = &w.record.object_path;
    assert!(path.starts_with("evaluations/cluster=a/date=2026-03-01/"), "{path}");
    let bytes = t.lake.store().get(&Path::from(path.as_str())).await.unwrap().bytes().await.unwrap();
    assert_eq!(format!("sha256:{}", tarn_trust::sha256_hex(&bytes)), w.record.object_sha256);
    let reader = SerializedFileReader::new(bytes).unwrap();
    let meta = reader.metadata();
    let kv = meta.file_metadata().key_value_metadata().unwrap();
    assert!(
        kv.iter().any(|k| k.key == "tarn.snapshot_id" && k.value.as_deref() == Some(&w.record.snapshot_id.to_string()))
    );
    let schema = meta.file_metadata().schema_descr();
    let names: Vec<&str> = schema.columns().iter().map(|c| c.name()).collect();
    assert!(!names.contains(&"cluster") && !names.contains(&"date"), "partition columns must live in the path");
    let rg = meta.row_group(0);
    assert_eq!(rg.num_rows() as u64, w.record.row_count);
    assert!(rg.sorting_columns().is_some_and(|s| s.len() == 6));
    for col in rg.columns() {
        assert!(matches!(col.compression(), parquet::basic::Compression::ZSTD(_)), "{}", col.column_path());
        assert!(col.statistics().is_some(), "{} has no statistics", col.column_path());
    }
    let ns = rg.columns().iter().find(|c| c.column_path().string() == "namespace").unwrap();
    assert!(ns.dictionary_page_offset().is_some(), "strings are dictionary-encoded");
    // Page-level statistics: the column index is written.
    let with_index = parquet::file::serialized_reader::ReadOptionsBuilder::new().with_page_index().build();
    let again = t.lake.store().get(&Path::from(path.as_str())).await.unwrap().bytes().await.unwrap();
    let indexed = SerializedFileReader::new_with_options(again, with_index).unwrap();
    assert!(indexed.metadata().column_index().is_some_and(|ci| !ci.is_empty()), "no page index");

    // Rows are stored sorted.
    let batch = {
        use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
        let bytes = t.lake.store().get(&Path::from(path.as_str())).await.unwrap().bytes().await.unwrap();
        let mut r = ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap().build().unwrap();
        r.next().unwrap().unwrap()
    };
    let col = |name: &str| {
        batch.column_by_name(name).unwrap().as_any().downcast_ref::<arrow::array::StringArray>().unwrap().clone()
    };
    let (ns, wl, c, ctl) = (col("namespace"), col("workload_name"), col("container"), col("control_id"));
    let keys: Vec<_> = (0..batch.num_rows()).map(|i| (ns.value(i), wl.value(i), c.value(i), ctl.value(i))).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
}

pub async fn concurrent_writers_keep_one_chain(b: Backend) {
    let Some(t) = b.open() else { return };
    let key = std::sync::Arc::new(SigningKeyPair::generate());
    let mut tasks = Vec::new();
    for writer in 0..8usize {
        let lake = t.lake.clone();
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            let mut w = SnapshotWriter::new(&lake, &key, &SystemClock);
            let mut ids = Vec::new();
            for i in 0..4 {
                let cluster = if writer.is_multiple_of(2) { "shared" } else { "other" };
                let s = w.write(input(cluster, t0() + Duration::minutes(i)), rows(2, writer)).await.unwrap();
                ids.push((s.record.snapshot_id, s.commit.seq, cluster));
            }
            ids
        }));
    }
    let mut acked = Vec::new();
    for task in tasks {
        acked.extend(task.await.unwrap());
    }
    let cat = Catalog::load(&t.lake, None).await.unwrap();
    assert_eq!(cat.snapshots.len(), 32);
    for (id, seq, cluster) in &acked {
        let s = cat.snapshots.iter().find(|s| &s.record.snapshot_id == id).expect("acknowledged snapshot present");
        assert_eq!((s.seq, s.record.cluster.as_str()), (*seq, *cluster));
    }
    let report = verify_with(&t.lake, &key).await;
    assert!(report.ok(), "{:#?}", report.problems);
    assert_eq!(report.witness.heads["shared"].seq, 16);
    assert_eq!(report.witness.heads["other"].seq, 16);
}

/// A store whose first conditional create of a log entry is stored but reported as a
/// conflict, as when a retried PUT finds its own first attempt.
#[derive(Debug)]
struct RetriedPut {
    inner: std::sync::Arc<dyn object_store::ObjectStore>,
    tripped: std::sync::atomic::AtomicBool,
}

impl std::fmt::Display for RetriedPut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RetriedPut({})", self.inner)
    }
}

#[async_trait::async_trait]
impl object_store::ObjectStore for RetriedPut {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: object_store::PutOptions,
    ) -> object_store::Result<object_store::PutResult> {
        let is_entry = location.as_ref().starts_with("log/") && !location.as_ref().ends_with("_head.json");
        let create = matches!(opts.mode, PutMode::Create);
        let r = self.inner.put_opts(location, payload, opts).await;
        if is_entry && create && r.is_ok() && !self.tripped.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return Err(object_store::Error::AlreadyExists {
                path: location.to_string(),
                source: "simulated retry after a lost response".into(),
            });
        }
        r
    }
    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: object_store::PutMultipartOptions,
    ) -> object_store::Result<Box<dyn object_store::MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }
    async fn get_opts(
        &self,
        location: &Path,
        options: object_store::GetOptions,
    ) -> object_store::Result<object_store::GetResult> {
        self.inner.get_opts(location, options).await
    }
    fn delete_stream(
        &self,
        locations: futures::stream::BoxStream<'static, object_store::Result<Path>>,
    ) -> futures::stream::BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }
    fn list(
        &self,
        prefix: Option<&Path>,
    ) -> futures::stream::BoxStream<'static, object_store::Result<object_store::ObjectMeta>> {
        self.inner.list(prefix)
    }
    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<object_store::ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }
    async fn copy_opts(&self, from: &Path, to: &Path, options: object_store::CopyOptions) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

pub async fn retried_commit_is_not_committed_twice(b: Backend) {
    let Some(t) = b.open() else { return };
    let store = std::sync::Arc::new(RetriedPut { inner: t.lake.store().clone(), tripped: Default::default() });
    let lake = Lake::from_store(store, t.lake.url());
    let key = SigningKeyPair::generate();
    let w = write(&lake, &key, "a", 0).await;
    assert_eq!(w.commit.seq, 1);
    let cat = Catalog::load(&t.lake, None).await.unwrap();
    assert_eq!(cat.snapshots.len(), 1, "the snapshot must be committed exactly once");
    assert!(verify_with(&t.lake, &key).await.ok());
}

pub async fn prepared_snapshots_are_written_once(b: Backend) {
    let Some(t) = b.open() else { return };
    let key = SigningKeyPair::generate();
    let mut w = SnapshotWriter::new(&t.lake, &key, &SystemClock);
    let p = w.prepare(input("a", t0()), rows(3, 0));
    let first = w.write_prepared(&p).await.unwrap();
    // Another writer commits in between; then the spooled snapshot is written again.
    write(&t.lake, &key, "a", 1).await;
    let again = w.write_prepared(&p).await.unwrap();
    assert_eq!((again.commit.seq, again.record.clone()), (first.commit.seq, first.record.clone()));
    // A prepared snapshot survives serialisation (the agent's spool) unchanged.
    let json = serde_json::to_vec(&p).unwrap();
    let back: tarn_lake::PreparedSnapshot = serde_json::from_slice(&json).unwrap();
    assert_eq!(back, p);
    assert_eq!(w.write_prepared(&back).await.unwrap().commit.seq, 1);
    assert_eq!(Catalog::load(&t.lake, None).await.unwrap().snapshots.len(), 2);
    assert!(verify_with(&t.lake, &key).await.ok());
}

pub async fn fresh_orphans_are_in_flight_not_problems(b: Backend) {
    let Some(t) = b.open() else { return };
    let key = SigningKeyPair::generate();
    populated(&t.lake, &key).await;
    let id = tarn_model::SnapshotId::new_at(Utc::now());
    let orphan = format!("evaluations/cluster=a/date=2026-03-01/{id}.parquet");
    t.lake.store().put(&Path::from(orphan.as_str()), PutPayload::from_static(b"PAR1")).await.unwrap();
    let lenient = verify(&t.lake, &VerifyOptions { keys: vec![key.public()], ..Default::default() }).await.unwrap();
    assert!(lenient.ok(), "{:#?}", lenient.problems);
    assert_eq!(lenient.in_flight, std::slice::from_ref(&orphan));
    let report = verify_with(&t.lake, &key).await;
    assert!(report.problems.iter().any(|p| p.object == orphan), "{:#?}", report.problems);
}

pub async fn verify_needs_a_lake_and_its_clusters(b: Backend) {
    let Some(t) = b.open() else { return };
    let key = SigningKeyPair::generate();
    let empty = verify(&t.lake, &strict(&key)).await;
    assert!(matches!(empty, Err(tarn_lake::LakeError::NotALake { .. })), "{empty:?}");
    populated(&t.lake, &key).await;
    let opts = VerifyOptions { clusters: Some(vec!["a".parse().unwrap(), "typo".parse().unwrap()]), ..strict(&key) };
    let r = verify(&t.lake, &opts).await.unwrap();
    assert_eq!(r.problems.len(), 1, "{:#?}", r.problems);
    assert_eq!(
        (r.problems[0].kind, r.problems[0].object.as_str()),
        (tarn_lake::verify::ProblemKind::MissingLog, "log/cluster=typo")
    );
}

pub async fn stale_head_hint_is_corrected(b: Backend) {
    let Some(t) = b.open() else { return };
    let key = SigningKeyPair::generate();
    populated(&t.lake, &key).await;
    let c: tarn_model::ClusterName = "a".parse().unwrap();
    // A hint pointing behind the tail, then one pointing past it (as after tampering).
    for seq in [1u64, 99] {
        t.lake.store().put(&paths::head_hint(&c), PutPayload::from(format!("{{\"seq\":{seq}}}"))).await.unwrap();
        write(&t.lake, &key, "a", 9).await;
    }
    let report = verify_with(&t.lake, &key).await;
    assert!(report.ok(), "{:#?}", report.problems);
    assert_eq!(report.witness.heads["a"].seq, 6);
}
