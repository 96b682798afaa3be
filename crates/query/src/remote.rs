//! Scale-out on Apache DataFusion Ballista: the same SQL, planned by a Ballista scheduler and run
//! by its executors.
//!
//! Ballista ships plans as protobuf, which knows DataFusion's own tables and operators but not
//! Tarn's. [`TarnLogicalCodec`] carries Tarn's tables and table-function results as what they
//! were asked for (`posture_at('2026-03-01', '/prod')` → a time, a scope, the staleness bound)
//! and rebuilds them on the scheduler over its catalog index. Small in-memory tables (`groups`,
//! `clusters`, `controls`) travel as Arrow IPC. Everything else goes to Ballista's codec.
//!
//! Scans planned for Ballista ([`RemoteScans`]) are plain DataFusion Parquet scans, so that
//! Ballista can split them across tasks and protobuf can carry them: a compacted object's wanted
//! row groups are byte ranges of the object instead of an access plan (which protobuf drops).
//! An executor needs only the lake's object store.
//!
//! A Tarn message starts with [`MAGIC`], which no protobuf message Ballista writes can start
//! with (`T` is field 10 with the deprecated end-group wire type).

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{Schema, SchemaRef};
use ballista_core::serde::BallistaLogicalExtensionCodec;
use chrono::{DateTime, Utc};
use datafusion::catalog::TableProvider;
use datafusion::common::{TableReference, internal_datafusion_err};
use datafusion::datasource::MemTable;
use datafusion::error::Result;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Extension, LogicalPlan};
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use serde::{Deserialize, Serialize};
use tarn_lake::{CatalogIndex, Scope};

use crate::compliance::{By, ComplianceAt, ComplianceTrend};
use crate::engine::Shared;
use crate::posture::{PostureAt, PostureBetween, PostureDiff};
use crate::tables::{CatalogTable, CatalogTableKind, EvaluationsTable};

/// First bytes of every message Tarn's codecs write.
pub const MAGIC: &[u8; 5] = b"TARN1";

/// Marks a session whose scans travel to Ballista executors: compacted objects' row groups are
/// selected by byte range, not by access plan.
#[derive(Debug, Default)]
pub struct RemoteScans;

/// Where the codec finds the catalog index to rebuild tables over: a fixed one (in-process
/// cluster) or the scheduler's, refreshed in the background.
pub type IndexSource = Arc<dyn Fn() -> Arc<CatalogIndex> + Send + Sync>;

// ---------------------------------------------------------------------------------------------
// Framing: MAGIC, u32 header length, JSON header, then an opaque blob (Arrow IPC).

fn frame(header: &impl Serialize, blob: &[u8], buf: &mut Vec<u8>) -> Result<()> {
    let json = serde_json::to_vec(header).map_err(|e| internal_datafusion_err!("encode: {e}"))?;
    buf.extend_from_slice(MAGIC);
    buf.extend_from_slice(&(json.len() as u32).to_le_bytes());
    buf.extend_from_slice(&json);
    buf.extend_from_slice(blob);
    Ok(())
}

/// `Some((header, blob))` when `buf` is a Tarn message.
fn unframe<T: for<'de> Deserialize<'de>>(buf: &[u8]) -> Result<Option<(T, &[u8])>> {
    let Some(rest) = buf.strip_prefix(MAGIC.as_slice()) else { return Ok(None) };
    let bad = || internal_datafusion_err!("truncated Tarn plan message");
    let len = u32::from_le_bytes(rest.get(..4).ok_or_else(bad)?.try_into().map_err(|_| bad())?) as usize;
    let json = rest.get(4..4 + len).ok_or_else(bad)?;
    let header = serde_json::from_slice(json).map_err(|e| internal_datafusion_err!("decode Tarn plan message: {e}"))?;
    Ok(Some((header, &rest[4 + len..])))
}

fn ipc_encode(schema: &Schema, batches: &[RecordBatch]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut w = arrow::ipc::writer::StreamWriter::try_new(&mut out, schema)?;
    for b in batches {
        w.write(b)?;
    }
    w.finish()?;
    drop(w);
    Ok(out)
}

fn ipc_decode(blob: &[u8]) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let reader = arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(blob), None)?;
    let schema = reader.schema();
    let batches = reader.collect::<std::result::Result<Vec<_>, _>>()?;
    Ok((schema, batches))
}

fn scope_string(scope: &Scope) -> String {
    match scope {
        Scope::All => "*".to_string(),
        Scope::Cluster(c) => c.as_str().to_string(),
        Scope::Group(g) => g.as_str().to_string(),
    }
}

fn parse_scope(s: &str) -> Result<Scope> {
    Scope::parse(s).map_err(|e| internal_datafusion_err!("scope {s:?}: {e}"))
}

// ---------------------------------------------------------------------------------------------
// Logical: tables as what they were asked for.

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "table", rename_all = "snake_case")]
enum TableSpec {
    Evaluations,
    Snapshots,
    Rollups,
    /// An in-memory table; its batches are the blob.
    Memory,
    PostureAt {
        at: DateTime<Utc>,
        scope: String,
        staleness_us: i64,
    },
    PostureBetween {
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        scope: String,
    },
    PostureDiff {
        t1: DateTime<Utc>,
        t2: DateTime<Utc>,
        scope: String,
        staleness_us: i64,
    },
    ComplianceAt {
        at: DateTime<Utc>,
        by: String,
        scope: String,
        staleness_us: i64,
    },
    ComplianceTrend {
        bucket_us: i64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        by: String,
        scope: String,
        staleness_us: i64,
    },
}

/// Carries Tarn's tables between a Ballista client and its scheduler.
pub struct TarnLogicalCodec {
    index: IndexSource,
    inner: BallistaLogicalExtensionCodec,
}

impl std::fmt::Debug for TarnLogicalCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TarnLogicalCodec").finish_non_exhaustive()
    }
}

impl TarnLogicalCodec {
    pub fn new(index: IndexSource) -> Self {
        Self { index, inner: BallistaLogicalExtensionCodec::default() }
    }

    fn shared(&self, staleness_us: i64) -> Arc<Shared> {
        Arc::new(Shared { index: (self.index)(), staleness: chrono::Duration::microseconds(staleness_us) })
    }
}

fn staleness_us(s: &Shared) -> i64 {
    s.staleness.num_microseconds().unwrap_or(i64::MAX)
}

impl LogicalExtensionCodec for TarnLogicalCodec {
    fn try_decode(&self, buf: &[u8], inputs: &[LogicalPlan], ctx: &TaskContext) -> Result<Extension> {
        self.inner.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        let Some((spec, blob)) = unframe::<TableSpec>(buf)? else {
            return self.inner.try_decode_table_provider(buf, table_ref, schema, ctx);
        };
        let provider: Arc<dyn TableProvider> = match spec {
            TableSpec::Evaluations => Arc::new(EvaluationsTable::new((self.index)())),
            TableSpec::Snapshots => Arc::new(CatalogTable::new((self.index)(), CatalogTableKind::Snapshots)),
            TableSpec::Rollups => Arc::new(CatalogTable::new((self.index)(), CatalogTableKind::Rollups)),
            TableSpec::Memory => {
                let (schema, batches) = ipc_decode(blob)?;
                Arc::new(MemTable::try_new(schema, vec![batches])?)
            }
            TableSpec::PostureAt { at, scope, staleness_us } => {
                Arc::new(PostureAt { shared: self.shared(staleness_us), at, scope: parse_scope(&scope)? })
            }
            TableSpec::PostureBetween { from, to, scope } => {
                Arc::new(PostureBetween { shared: self.shared(0), from, to, scope: parse_scope(&scope)? })
            }
            TableSpec::PostureDiff { t1, t2, scope, staleness_us } => {
                Arc::new(PostureDiff { shared: self.shared(staleness_us), t1, t2, scope: parse_scope(&scope)? })
            }
            TableSpec::ComplianceAt { at, by, scope, staleness_us } => Arc::new(ComplianceAt {
                shared: self.shared(staleness_us),
                at,
                by: By::parse("compliance_at", &by)?,
                scope: parse_scope(&scope)?,
            }),
            TableSpec::ComplianceTrend { bucket_us, from, to, by, scope, staleness_us } => Arc::new(ComplianceTrend {
                shared: self.shared(staleness_us),
                bucket: chrono::Duration::microseconds(bucket_us),
                from,
                to,
                by: By::parse("compliance_trend", &by)?,
                scope: parse_scope(&scope)?,
            }),
        };
        Ok(provider)
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        let any: &dyn TableProvider = node.as_ref();
        let spec = if any.is::<EvaluationsTable>() {
            TableSpec::Evaluations
        } else if let Some(t) = any.downcast_ref::<CatalogTable>() {
            match t.kind() {
                CatalogTableKind::Snapshots => TableSpec::Snapshots,
                CatalogTableKind::Rollups => TableSpec::Rollups,
            }
        } else if let Some(t) = any.downcast_ref::<MemTable>() {
            let mut batches = Vec::new();
            for p in &t.batches {
                let guard = p.try_read().map_err(|_| internal_datafusion_err!("table {table_ref} is being written"))?;
                batches.extend(guard.iter().cloned());
            }
            return frame(&TableSpec::Memory, &ipc_encode(&t.schema(), &batches)?, buf);
        } else if let Some(t) = any.downcast_ref::<PostureAt>() {
            TableSpec::PostureAt { at: t.at, scope: scope_string(&t.scope), staleness_us: staleness_us(&t.shared) }
        } else if let Some(t) = any.downcast_ref::<PostureBetween>() {
            TableSpec::PostureBetween { from: t.from, to: t.to, scope: scope_string(&t.scope) }
        } else if let Some(t) = any.downcast_ref::<PostureDiff>() {
            TableSpec::PostureDiff {
                t1: t.t1,
                t2: t.t2,
                scope: scope_string(&t.scope),
                staleness_us: staleness_us(&t.shared),
            }
        } else if let Some(t) = any.downcast_ref::<ComplianceAt>() {
            TableSpec::ComplianceAt {
                at: t.at,
                by: t.by.name().to_string(),
                scope: scope_string(&t.scope),
                staleness_us: staleness_us(&t.shared),
            }
        } else if let Some(t) = any.downcast_ref::<ComplianceTrend>() {
            TableSpec::ComplianceTrend {
                bucket_us: t.bucket.num_microseconds().unwrap_or(i64::MAX),
                from: t.from,
                to: t.to,
                by: t.by.name().to_string(),
                scope: scope_string(&t.scope),
                staleness_us: staleness_us(&t.shared),
            }
        } else {
            return self.inner.try_encode_table_provider(table_ref, node, buf);
        };
        frame(&spec, &[], buf)
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn datafusion::datasource::file_format::FileFormatFactory>> {
        self.inner.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn datafusion::datasource::file_format::FileFormatFactory>,
    ) -> Result<()> {
        self.inner.try_encode_file_format(buf, node)
    }
}

// ---------------------------------------------------------------------------------------------
// Processes: a scheduler and executors that know Tarn's tables and the lake.

/// Where a scheduler listens and how fresh its catalog stays.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    pub bind: std::net::SocketAddr,
    /// Host name executors and clients use to reach this scheduler.
    pub external_host: String,
    /// How often the scheduler re-reads the catalog (new snapshots become visible).
    pub refresh: std::time::Duration,
}

/// Runs a Ballista scheduler for `lake` until the process stops. It plans Tarn's tables over
/// its own catalog index, re-read every `refresh`; a failed re-read keeps the last good index
/// and is logged.
pub async fn run_scheduler(
    lake: tarn_lake::Lake,
    query: crate::QueryOptions,
    opts: SchedulerOptions,
) -> std::result::Result<(), crate::QueryError> {
    use ballista_scheduler::cluster::BallistaCluster;
    use ballista_scheduler::config::SchedulerConfig;
    let index = Arc::new(std::sync::RwLock::new(CatalogIndex::open(&lake).await?));
    {
        let index = index.clone();
        let lake = lake.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(opts.refresh);
            tick.tick().await;
            loop {
                tick.tick().await;
                match CatalogIndex::open(&lake).await {
                    Ok(fresh) => *index.write().unwrap_or_else(|e| e.into_inner()) = fresh,
                    Err(e) => tracing::warn!("catalog refresh failed, keeping the previous index: {e}"),
                }
            }
        });
    }
    let source: IndexSource = Arc::new(move || index.read().unwrap_or_else(|e| e.into_inner()).clone());
    let runtime = crate::engine::runtime(lake.store().clone(), &query)?;
    let template = crate::engine::ballista_state_from(source.clone(), runtime.clone());
    let config = template.config().clone();
    let builder: ballista_scheduler::scheduler_server::SessionBuilder = Arc::new(move |config| {
        let state = ballista_core::utils::default_session_builder(config.with_extension(Arc::new(RemoteScans)))?;
        Ok(datafusion::execution::SessionStateBuilder::new_from_existing(state)
            .with_runtime_env(runtime.clone())
            .build())
    });
    let sc = SchedulerConfig {
        bind_host: opts.bind.ip().to_string(),
        bind_port: opts.bind.port(),
        external_host: opts.external_host.clone(),
        override_session_builder: Some(builder),
        override_config_producer: Some(Arc::new(move || config.clone())),
        override_logical_codec: Some(Arc::new(TarnLogicalCodec::new(source))),
        ..Default::default()
    };
    let cluster =
        BallistaCluster::new_from_config(&sc).await.map_err(|e| crate::QueryError::Ballista(e.to_string()))?;
    ballista_scheduler::scheduler_process::start_server(cluster, opts.bind, Arc::new(sc))
        .await
        .map_err(|e| crate::QueryError::Ballista(e.to_string()))
}

/// Where an executor listens and which scheduler it serves.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    pub scheduler_host: String,
    pub scheduler_port: u16,
    pub bind_host: String,
    /// Host name the scheduler and other executors use to fetch shuffle data from this one.
    pub external_host: Option<String>,
    /// Arrow Flight port (shuffle data).
    pub port: u16,
    /// gRPC port.
    pub grpc_port: u16,
    pub vcores: usize,
    pub work_dir: Option<String>,
}

/// Runs a Ballista executor that reads `lake` until the process stops.
pub async fn run_executor(
    lake: tarn_lake::Lake,
    query: crate::QueryOptions,
    opts: ExecutorOptions,
) -> std::result::Result<(), crate::QueryError> {
    use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
    let runtime = crate::engine::runtime(lake.store().clone(), &query)?;
    let config = ExecutorProcessConfig {
        scheduler_host: opts.scheduler_host,
        scheduler_port: opts.scheduler_port,
        bind_host: opts.bind_host,
        external_host: opts.external_host,
        port: opts.port,
        grpc_port: opts.grpc_port,
        vcores: opts.vcores,
        work_dir: opts.work_dir,
        print_thread_info: false,
        override_runtime_producer: Some(Arc::new(move |_| Ok(runtime.clone()))),
        ..Default::default()
    };
    start_executor_process(Arc::new(config)).await.map_err(|e| crate::QueryError::Ballista(e.to_string()))
}
