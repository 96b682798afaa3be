//! Writing a snapshot: encode rows as Parquet (hashing the bytes as they stream out), then
//! sign and commit a log entry for it.

use std::sync::{Arc, Mutex};

use arrow::array::{ArrayRef, RecordBatch, StringBuilder, TimestampMicrosecondArray};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use object_store::buffered::BufWriter;
use object_store::{ObjectStoreExt, PutMode, PutPayload};
use parquet::arrow::AsyncArrowWriter;
use parquet::arrow::async_writer::AsyncFileWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::metadata::{KeyValue, SortingColumn};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use tarn_model::schema::{EVALUATIONS_SORT_COLUMNS, evaluations_file_schema};
use tarn_model::{
    AgentInfo, Clock, ClusterName, ControlRollup, EvaluationRow, GroupPath, SnapshotId, SnapshotRecord, StatusCounts,
};
use tarn_trust::StreamingSha256;
use tarn_trust::keys::SigningKeyPair;

use crate::error::{LakeError, Result};
use crate::log::{self, Committed};
use crate::paths::{self, EvaluationPath};
use crate::store::Lake;
use serde::{Deserialize, Serialize};

/// Everything about a snapshot except its rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotInput {
    pub cluster: ClusterName,
    pub group_path: GroupPath,
    pub observed_at: DateTime<Utc>,
    pub evaluated_at: DateTime<Utc>,
    pub agent: AgentInfo,
    /// `sha256:<hex>`
    pub policy_digest: String,
    /// `sha256:<hex>`
    pub inventory_digest: String,
    pub frameworks: Vec<String>,
}

/// A snapshot with its identity fixed, ready to write (or to spool and write later).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreparedSnapshot {
    pub snapshot_id: SnapshotId,
    pub ingested_at: DateTime<Utc>,
    pub input: SnapshotInput,
    /// Sorted in storage order.
    pub rows: Vec<EvaluationRow>,
}

/// A committed snapshot.
#[derive(Debug, Clone)]
pub struct WrittenSnapshot {
    pub record: SnapshotRecord,
    pub commit: Committed,
}

/// Writer properties for evaluation objects: zstd, dictionary-encoded strings, page-level
/// statistics, sort order recorded in the footer.
pub fn writer_properties(snapshot_id: &SnapshotId) -> WriterProperties {
    evaluation_properties(vec![KeyValue::new("tarn.snapshot_id".into(), snapshot_id.to_string())])
}

/// The evaluation-object properties with `tarn.format_version` plus `metadata` in the footer.
pub(crate) fn evaluation_properties(metadata: Vec<KeyValue>) -> WriterProperties {
    evaluation_properties_builder(metadata).build()
}

pub(crate) fn evaluation_properties_builder(
    metadata: Vec<KeyValue>,
) -> parquet::file::properties::WriterPropertiesBuilder {
    let schema = evaluations_file_schema();
    let sorting = EVALUATIONS_SORT_COLUMNS
        .iter()
        .map(|c| SortingColumn {
            column_idx: schema.index_of(c).expect("sort column in schema") as i32,
            descending: false,
            nulls_first: false,
        })
        .collect();
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).expect("valid zstd level")))
        .set_dictionary_enabled(true)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_sorting_columns(Some(sorting))
        .set_key_value_metadata(Some(
            std::iter::once(KeyValue::new("tarn.format_version".into(), tarn_model::LAKE_FORMAT_VERSION.to_string()))
                .chain(metadata)
                .collect(),
        ))
}

/// Builds the Arrow batch for `rows` (already sorted) with the snapshot-wide columns stamped on.
pub fn rows_to_batch(
    rows: &[EvaluationRow],
    snapshot_id: &SnapshotId,
    group: &GroupPath,
    times: [DateTime<Utc>; 3],
) -> Result<RecordBatch> {
    let n = rows.len();
    let constant = |v: &str| {
        let mut b = StringBuilder::with_capacity(n, v.len() * n);
        for _ in 0..n {
            b.append_value(v);
        }
        Arc::new(b.finish()) as ArrayRef
    };
    let column = |f: &dyn Fn(&EvaluationRow) -> &str| {
        let mut b = StringBuilder::with_capacity(n, 16 * n);
        for r in rows {
            b.append_value(f(r));
        }
        Arc::new(b.finish()) as ArrayRef
    };
    let time = |t: DateTime<Utc>| {
        Arc::new(TimestampMicrosecondArray::from_value(t.timestamp_micros(), n).with_timezone("UTC")) as ArrayRef
    };
    let columns = vec![
        constant(&snapshot_id.to_string()),
        constant(group.as_str()),
        column(&|r| &r.namespace),
        column(&|r| &r.workload_kind),
        column(&|r| &r.workload_name),
        column(&|r| &r.container),
        column(&|r| &r.image),
        column(&|r| &r.image_digest),
        column(&|r| &r.framework),
        column(&|r| &r.framework_version),
        column(&|r| &r.control_id),
        column(&|r| r.status.as_str()),
        column(&|r| r.severity.as_str()),
        column(&|r| &r.message),
        time(times[0]),
        time(times[1]),
        time(times[2]),
    ];
    Ok(RecordBatch::try_new(evaluations_file_schema(), columns)?)
}

type HashState = Arc<Mutex<(StreamingSha256, u64)>>;

/// Feeds every byte Parquet emits through SHA-256 on its way to the object store, so the
/// digest is known without holding or re-reading the object.
struct HashingWriter {
    inner: BufWriter,
    state: HashState,
}

impl AsyncFileWriter for HashingWriter {
    fn write(&mut self, bs: Bytes) -> BoxFuture<'_, parquet::errors::Result<()>> {
        {
            let mut st = self.state.lock().expect("hash state lock");
            st.0.update(&bs);
            st.1 += bs.len() as u64;
        }
        Box::pin(async move { self.inner.put(bs).await.map_err(|e| ParquetError::External(Box::new(e))) })
    }

    fn complete(&mut self) -> BoxFuture<'_, parquet::errors::Result<()>> {
        Box::pin(async move {
            tokio::io::AsyncWriteExt::shutdown(&mut self.inner).await.map_err(|e| ParquetError::External(Box::new(e)))
        })
    }
}

/// Writes and commits snapshots to one lake with one key.
#[derive(Debug)]
pub struct SnapshotWriter<'a> {
    lake: &'a Lake,
    key: &'a SigningKeyPair,
    clock: &'a dyn Clock,
    /// Set once the descriptor and key are in place.
    lake_id: Option<String>,
    /// Snapshots this writer prepared and has not tried to write yet: their first write needs
    /// no look-up for an earlier commit.
    fresh: std::collections::HashSet<SnapshotId>,
    checkpoint_every: Option<u64>,
}

impl<'a> SnapshotWriter<'a> {
    pub fn new(lake: &'a Lake, key: &'a SigningKeyPair, clock: &'a dyn Clock) -> Self {
        Self { lake, key, clock, lake_id: None, fresh: Default::default(), checkpoint_every: None }
    }

    /// Also writes a catalog checkpoint whenever a commit lands at a log position divisible by
    /// `n` (so each cluster's agent keeps the lake-wide catalog at most about `n` entries per
    /// cluster behind). A failed checkpoint is logged, never fails the write.
    pub fn with_checkpoint_every(mut self, n: u64) -> Self {
        self.checkpoint_every = (n > 0).then_some(n);
        self
    }

    /// Assigns the snapshot its id and ingest time. A prepared snapshot can be spooled and
    /// written later, any number of times: [`Self::write_prepared`] is idempotent.
    pub fn prepare(&mut self, input: SnapshotInput, mut rows: Vec<EvaluationRow>) -> PreparedSnapshot {
        let ingested_at = self.clock.now();
        rows.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        let snapshot_id = SnapshotId::new_at(ingested_at);
        self.fresh.insert(snapshot_id);
        PreparedSnapshot { snapshot_id, ingested_at, input, rows }
    }

    /// Stores `rows` as a new snapshot and commits it to the cluster's log. Returns once the
    /// snapshot is durable and visible; on error nothing becomes visible.
    pub async fn write(&mut self, input: SnapshotInput, rows: Vec<EvaluationRow>) -> Result<WrittenSnapshot> {
        let prepared = self.prepare(input, rows);
        self.write_prepared(&prepared).await
    }

    /// Writes and commits a prepared snapshot. If it was committed already (an earlier attempt
    /// whose acknowledgement was lost), returns that commit instead of committing it twice.
    pub async fn write_prepared(&mut self, p: &PreparedSnapshot) -> Result<WrittenSnapshot> {
        let input = &p.input;
        if input.observed_at > input.evaluated_at {
            return Err(LakeError::InvalidSnapshot(format!(
                "observed_at {} is after evaluated_at {}",
                input.observed_at, input.evaluated_at
            )));
        }
        let lake_id = match &self.lake_id {
            Some(id) => id.clone(),
            None => {
                let d = self.lake.ensure_descriptor().await?;
                publish_key(self.lake, self.key).await?;
                self.lake_id = Some(d.lake_id.clone());
                d.lake_id
            }
        };
        // Clocks of concurrent writers may disagree by this much.
        let skew = chrono::Duration::minutes(10);
        let first_attempt = self.fresh.remove(&p.snapshot_id);
        if !first_attempt
            && let Some((raw, entry)) =
                log::find_recent(self.lake, &input.cluster, &p.snapshot_id, p.ingested_at - skew).await?
        {
            let commit = Committed { seq: raw.seq, path: raw.path, entry_sha256: raw.sha256, attempts: 0 };
            return Ok(WrittenSnapshot { record: entry.snapshot, commit });
        }
        let snapshot_id = p.snapshot_id;
        let counts = StatusCounts::of(&p.rows);
        let path = EvaluationPath { cluster: input.cluster.clone(), date: input.observed_at.date_naive(), snapshot_id }
            .to_path();
        let batch = rows_to_batch(
            &p.rows,
            &snapshot_id,
            &input.group_path,
            [input.observed_at, input.evaluated_at, p.ingested_at],
        )?;
        let (size, sha) = self.write_parquet(&path, &batch, &snapshot_id).await?;
        drop(batch);
        let record = SnapshotRecord {
            snapshot_id,
            cluster: input.cluster.clone(),
            group_path: input.group_path.clone(),
            observed_at: input.observed_at,
            evaluated_at: input.evaluated_at,
            ingested_at: p.ingested_at,
            agent: input.agent.clone(),
            policy_digest: input.policy_digest.clone(),
            inventory_digest: input.inventory_digest.clone(),
            frameworks: input.frameworks.clone(),
            row_count: counts.total(),
            status_counts: counts,
            object_path: path.to_string(),
            object_size: size,
            object_sha256: format!("sha256:{sha}"),
            rollups: ControlRollup::of(&p.rows),
        };
        match log::commit(self.lake, &lake_id, &record, self.key).await {
            Ok(commit) => {
                if self.checkpoint_every.is_some_and(|n| commit.seq % n == 0) {
                    match crate::index::write_checkpoint(self.lake, self.clock, &Default::default()).await {
                        Ok(outcome) => tracing::debug!(?outcome, "catalog checkpoint"),
                        Err(e) => tracing::warn!(error = %e, "could not write a catalog checkpoint"),
                    }
                }
                Ok(WrittenSnapshot { record, commit })
            }
            Err(e) => {
                // Not committed, so not evidence: remove it rather than leave an orphan.
                if let Err(del) = self.lake.store().delete(&path).await {
                    tracing::warn!(object = %path, error = %del, "could not remove uncommitted object");
                }
                Err(e)
            }
        }
    }

    async fn write_parquet(
        &self,
        path: &object_store::path::Path,
        batch: &RecordBatch,
        snapshot_id: &SnapshotId,
    ) -> Result<(u64, String)> {
        let perr = |source| LakeError::Parquet { path: path.to_string(), source };
        let state: HashState = Arc::default();
        let sink =
            HashingWriter { inner: BufWriter::new(self.lake.store().clone(), path.clone()), state: state.clone() };
        let mut w =
            AsyncArrowWriter::try_new(sink, batch.schema(), Some(writer_properties(snapshot_id))).map_err(perr)?;
        w.write(batch).await.map_err(perr)?;
        w.close().await.map_err(perr)?;
        let (hasher, size) = std::mem::take(&mut *state.lock().expect("hash state lock"));
        Ok((size, hasher.finish_hex()))
    }
}

/// Leaves the writer's public key in the lake for convenience. It is *not* a trust anchor:
/// auditors pass `--key` to verification.
pub(crate) async fn publish_key(lake: &Lake, key: &SigningKeyPair) -> Result<()> {
    let public = key.public();
    let path = paths::public_key(&public.key_id());
    match lake.store().put_opts(&path, PutPayload::from(public.to_pem().into_bytes()), PutMode::Create.into()).await {
        Ok(_) | Err(object_store::Error::AlreadyExists { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
