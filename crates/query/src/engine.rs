use std::sync::Arc;
use std::time::Duration;

use arrow::array::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SQLOptions, SessionConfig, SessionContext};
use tarn_lake::{Catalog, Lake};

use crate::error::QueryError;
use crate::tables::{EvaluationsTable, LAKE_STORE_URL, snapshots_batch};

/// Per-query limits.
#[derive(Debug, Clone, Copy)]
pub struct QueryOptions {
    /// Memory the query may use for sorts, joins and aggregations, in bytes.
    pub memory_limit: usize,
    pub timeout: Duration,
}

impl Default for QueryOptions {
    fn default() -> Self {
        Self { memory_limit: 2 << 30, timeout: Duration::from_secs(300) }
    }
}

/// A read-only SQL session over one lake.
pub struct QueryEngine {
    ctx: SessionContext,
    opts: QueryOptions,
    warnings: Vec<String>,
}

impl std::fmt::Debug for QueryEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryEngine").field("opts", &self.opts).finish_non_exhaustive()
    }
}

impl QueryEngine {
    /// Loads the catalog and registers `evaluations` and `snapshots`.
    pub async fn open(lake: &Lake, opts: QueryOptions) -> Result<Self, QueryError> {
        let catalog = Catalog::load(lake, None).await?;
        let runtime = RuntimeEnvBuilder::new().with_memory_limit(opts.memory_limit, 1.0).build_arc()?;
        // The generic dialect accepts trailing commas in select lists and so reads `a, cluster`
        // as the start of a CLUSTER BY clause; `cluster` is our partition column.
        let config =
            SessionConfig::new().with_information_schema(true).set_str("datafusion.sql_parser.dialect", "PostgreSQL");
        let ctx = SessionContext::new_with_config_rt(config, runtime);
        ctx.register_object_store(&url::Url::parse(LAKE_STORE_URL).expect("static url"), lake.store().clone());
        ctx.register_table("evaluations", Arc::new(EvaluationsTable::new(&catalog.snapshots)))?;
        let snaps = snapshots_batch(&catalog.snapshots)?;
        ctx.register_table("snapshots", Arc::new(MemTable::try_new(snaps.schema(), vec![vec![snaps]])?))?;
        Ok(Self { ctx, opts, warnings: catalog.warnings })
    }

    /// Log entries the catalog could not read (left out of the tables).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Runs one read-only SQL statement.
    pub async fn sql(&self, sql: &str) -> Result<Vec<RecordBatch>, QueryError> {
        let guard = SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false);
        let df = self.ctx.sql_with_options(sql, guard).await.map_err(|e| match e {
            datafusion::error::DataFusionError::Plan(msg) if msg.contains("not supported") => QueryError::ReadOnly(msg),
            other => QueryError::DataFusion(other),
        })?;
        match tokio::time::timeout(self.opts.timeout, df.collect()).await {
            Ok(Ok(batches)) => Ok(batches),
            Ok(Err(e)) => Err(self.classify(e)),
            Err(_) => Err(QueryError::Timeout(self.opts.timeout)),
        }
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
