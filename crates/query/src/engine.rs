use std::sync::Arc;
use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::datasource::MemTable;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::session_state::SessionState;
use datafusion::prelude::{SQLOptions, SessionConfig, SessionContext};
use tarn_lake::{CatalogIndex, Lake};

use crate::compliance::{ComplianceAtFunc, ComplianceTrendFunc};
use crate::error::QueryError;
use crate::posture::{PostureAtFunc, PostureBetweenFunc, PostureDiffFunc};
use crate::remote::{IndexSource, RemoteScans, TarnLogicalCodec};
use crate::scan::LAKE_STORE_URL;
use crate::tables::{
    CatalogTable, CatalogTableKind, ControlInfo, EvaluationsTable, alerts_batch, alerts_schema, clusters_batch,
    controls_batch, controls_schema, deliveries_batch, deliveries_schema, groups_batch,
};

/// Per-query limits and the staleness bound.
#[derive(Debug, Clone, Copy)]
pub struct QueryOptions {
    /// Memory the query may use for sorts, joins and aggregations, in bytes.
    pub memory_limit: usize,
    pub timeout: Duration,
    /// A cluster whose newest snapshot at a point in time is older than this is stale.
    pub staleness: chrono::Duration,
    /// Bytes of (immutable) objects a session keeps in memory for later queries.
    pub cache_bytes: u64,
}

impl Default for QueryOptions {
    fn default() -> Self {
        Self {
            memory_limit: 2 << 30,
            timeout: Duration::from_secs(300),
            staleness: chrono::Duration::hours(24),
            cache_bytes: 512 << 20,
        }
    }
}

/// What the table functions share.
#[derive(Debug)]
pub struct Shared {
    pub index: Arc<CatalogIndex>,
    pub staleness: chrono::Duration,
}

/// A read-only SQL session over one lake. Open it once and ask many questions: the catalog
/// and the Parquet footers it has read stay cached.
pub struct QueryEngine {
    ctx: SessionContext,
    opts: QueryOptions,
    index: Arc<CatalogIndex>,
}

impl std::fmt::Debug for QueryEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryEngine").field("opts", &self.opts).finish_non_exhaustive()
    }
}

/// Tarn's session settings on top of `base`.
fn session_config(base: SessionConfig) -> SessionConfig {
    // The generic dialect accepts trailing commas in select lists and so reads `a, cluster`
    // as the start of a CLUSTER BY clause; `cluster` is our partition column.
    base.with_information_schema(true)
        .set_str("datafusion.sql_parser.dialect", "PostgreSQL")
        // Row-level filtering inside the Parquet reader: point and range questions select a
        // few rows of each object.
        .set_bool("datafusion.execution.parquet.pushdown_filters", true)
        .set_bool("datafusion.execution.parquet.reorder_filters", true)
        // Tarn writes no bloom filters; do not look for them per row group.
        .set_bool("datafusion.execution.parquet.bloom_filter_on_read", false)
}

/// Memory limit, and the lake's object store (behind the read cache) under [`LAKE_STORE_URL`].
pub(crate) fn runtime(
    store: Arc<dyn object_store::ObjectStore>,
    opts: &QueryOptions,
) -> Result<Arc<RuntimeEnv>, QueryError> {
    let runtime = RuntimeEnvBuilder::new().with_memory_limit(opts.memory_limit, 1.0).build_arc()?;
    let store_url = url::Url::parse(LAKE_STORE_URL).expect("static url");
    let cached = crate::cache::ReadCache::new(store, opts.cache_bytes);
    runtime.register_object_store(&store_url, Arc::new(cached));
    Ok(runtime)
}

/// A session state for Ballista: Tarn's settings, the codec that carries Tarn's tables, and
/// scans that travel ([`RemoteScans`]). A scheduler or executor process builds its state
/// the same way.
pub fn ballista_state(index: Arc<CatalogIndex>, runtime: Arc<RuntimeEnv>) -> SessionState {
    let source: IndexSource = Arc::new(move || index.clone());
    ballista_state_from(source, runtime)
}

pub fn ballista_state_from(source: IndexSource, runtime: Arc<RuntimeEnv>) -> SessionState {
    use ballista::prelude::SessionConfigExt;
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let config = session_config(SessionConfig::new_with_ballista())
        .with_target_partitions(cores)
        .with_extension(Arc::new(RemoteScans))
        .with_ballista_logical_extension_codec(Arc::new(TarnLogicalCodec::new(source)));
    SessionStateBuilder::new().with_config(config).with_runtime_env(runtime).with_default_features().build()
}

impl QueryEngine {
    /// Opens the catalog index and registers the tables and table functions.
    pub async fn open(lake: &Lake, opts: QueryOptions) -> Result<Self, QueryError> {
        let index = CatalogIndex::open(lake).await?;
        Self::with_index(index, opts)
    }

    /// Registers `alerts` (every emitted event) and `alert_deliveries` (each event's outcome
    /// per sink), read from the lake's `alerts/` area. They are empty until this is called: the
    /// records are read whole, so only callers asking about alerts pay for it.
    pub async fn register_alerts(&self, lake: &Lake) -> Result<(), QueryError> {
        let events = tarn_lake::alerts::events(lake).await.map_err(QueryError::from)?;
        let (settled, pending) = tarn_lake::alerts::deliveries(lake).await.map_err(QueryError::from)?;
        let a = alerts_batch(&events)?;
        let d = deliveries_batch(&settled, &pending)?;
        for (name, batch) in [("alerts", a), ("alert_deliveries", d)] {
            self.ctx.deregister_table(name)?;
            self.ctx.register_table(name, Arc::new(MemTable::try_new(batch.schema(), vec![vec![batch]])?))?;
        }
        Ok(())
    }

    pub fn with_index(index: Arc<CatalogIndex>, opts: QueryOptions) -> Result<Self, QueryError> {
        let runtime = runtime(index.lake().store().clone(), &opts)?;
        let ctx = SessionContext::new_with_config_rt(session_config(SessionConfig::new()), runtime);
        Self::register(ctx, index, opts)
    }

    /// The same tables and functions, planned by a Ballista scheduler and run by its executors:
    /// `scheduler` is `host:port` (or `df://host:port`) of a scheduler built with Tarn's codecs
    /// (`tarn engine scheduler`), or `None` for a scheduler and an executor in this process.
    pub async fn ballista(
        index: Arc<CatalogIndex>,
        opts: QueryOptions,
        scheduler: Option<&str>,
    ) -> Result<Self, QueryError> {
        use ballista::prelude::SessionContextExt;
        let state = ballista_state(index.clone(), runtime(index.lake().store().clone(), &opts)?);
        let ctx = match scheduler {
            None => SessionContext::standalone_with_state(state).await?,
            Some(addr) => {
                let url = if addr.contains("://") { addr.to_string() } else { format!("df://{addr}") };
                SessionContext::remote_with_state(&url, state).await?
            }
        };
        Self::register(ctx, index, opts)
    }

    fn register(ctx: SessionContext, index: Arc<CatalogIndex>, opts: QueryOptions) -> Result<Self, QueryError> {
        ctx.register_table("evaluations", Arc::new(EvaluationsTable::new(index.clone())))?;
        ctx.register_table("snapshots", Arc::new(CatalogTable::new(index.clone(), CatalogTableKind::Snapshots)))?;
        ctx.register_table("rollups", Arc::new(CatalogTable::new(index.clone(), CatalogTableKind::Rollups)))?;
        let clusters = clusters_batch(&index)?;
        ctx.register_table("clusters", Arc::new(MemTable::try_new(clusters.schema(), vec![vec![clusters]])?))?;
        let groups = groups_batch(&index)?;
        ctx.register_table("groups", Arc::new(MemTable::try_new(groups.schema(), vec![vec![groups]])?))?;
        ctx.register_table("controls", Arc::new(MemTable::try_new(controls_schema(), vec![vec![]])?))?;
        ctx.register_table("alerts", Arc::new(MemTable::try_new(alerts_schema(), vec![vec![]])?))?;
        ctx.register_table("alert_deliveries", Arc::new(MemTable::try_new(deliveries_schema(), vec![vec![]])?))?;
        let shared = Arc::new(Shared { index: index.clone(), staleness: opts.staleness });
        ctx.register_udtf("posture_at", Arc::new(PostureAtFunc(shared.clone())));
        ctx.register_udtf("posture_between", Arc::new(PostureBetweenFunc(shared.clone())));
        ctx.register_udtf("posture_diff", Arc::new(PostureDiffFunc(shared.clone())));
        ctx.register_udtf("compliance_at", Arc::new(ComplianceAtFunc(shared.clone())));
        ctx.register_udtf("compliance_trend", Arc::new(ComplianceTrendFunc(shared)));
        Ok(Self { ctx, opts, index })
    }

    /// Fills the `controls` table (the framework catalogs).
    pub fn with_controls(self, controls: &[ControlInfo]) -> Result<Self, QueryError> {
        let batch = controls_batch(controls)?;
        self.ctx.deregister_table("controls")?;
        self.ctx.register_table("controls", Arc::new(MemTable::try_new(controls_schema(), vec![vec![batch]])?))?;
        Ok(self)
    }

    pub fn index(&self) -> &Arc<CatalogIndex> {
        &self.index
    }

    pub fn options(&self) -> &QueryOptions {
        &self.opts
    }

    /// Log entries the catalog could not read (left out of the tables).
    pub fn warnings(&self) -> &[String] {
        self.index.warnings()
    }

    /// Runs one read-only SQL statement.
    pub async fn sql(&self, sql: &str) -> Result<Vec<RecordBatch>, QueryError> {
        Ok(self.query(sql).await?.1)
    }

    /// Runs one read-only SQL statement; returns the result schema too (known even when no
    /// row matches).
    pub async fn query(&self, sql: &str) -> Result<(SchemaRef, Vec<RecordBatch>), QueryError> {
        let work = async {
            let df = self.plan(sql).await?;
            let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
            let batches = df.collect().await.map_err(|e| self.classify(e))?;
            Ok((schema, batches))
        };
        match tokio::time::timeout(self.opts.timeout, work).await {
            Ok(r) => r,
            Err(_) => Err(QueryError::Timeout(self.opts.timeout)),
        }
    }

    /// Plans a statement (rejecting anything that is not a read-only query).
    pub async fn plan(&self, sql: &str) -> Result<datafusion::dataframe::DataFrame, QueryError> {
        let guard = SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false);
        self.ctx.sql_with_options(sql, guard).await.map_err(|e| match e {
            datafusion::error::DataFusionError::Plan(msg) if msg.contains("not supported") => QueryError::ReadOnly(msg),
            other => self.classify(other),
        })
    }

    fn classify(&self, e: datafusion::error::DataFusionError) -> QueryError {
        match e.find_root() {
            datafusion::error::DataFusionError::ResourcesExhausted(detail) => {
                QueryError::Memory { limit_mb: self.opts.memory_limit >> 20, detail: detail.clone() }
            }
            _ => QueryError::DataFusion(e),
        }
    }
}
