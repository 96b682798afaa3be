//! Table providers over the lake catalog.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringArray, TimestampMicrosecondArray, UInt64Array};
use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::ScalarValue;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder};
use datafusion::datasource::table_schema::TableSchema;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_plan::ExecutionPlan;
use tarn_lake::CatalogSnapshot;
use tarn_model::schema::{
    evaluations_file_schema, evaluations_partition_fields, evaluations_table_schema, snapshots_schema,
};

/// URL under which the lake's object store is registered with DataFusion.
pub const LAKE_STORE_URL: &str = "tarn://lake/";

#[derive(Debug, Clone)]
struct FileEntry {
    path: String,
    size: u64,
    cluster: String,
    date: String,
}

/// The `evaluations` table: exactly the committed snapshot objects the catalog lists.
#[derive(Debug)]
pub struct EvaluationsTable {
    files: Vec<FileEntry>,
    schema: SchemaRef,
}

impl EvaluationsTable {
    pub fn new(snapshots: &[CatalogSnapshot]) -> Self {
        let files = snapshots
            .iter()
            .map(|s| FileEntry {
                path: s.record.object_path.clone(),
                size: s.record.object_size,
                cluster: s.record.cluster.to_string(),
                date: s.record.observed_at.date_naive().format("%Y-%m-%d").to_string(),
            })
            .collect();
        Self { files, schema: evaluations_table_schema() }
    }
}

#[async_trait]
impl TableProvider for EvaluationsTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> datafusion::error::Result<Vec<TableProviderFilterPushDown>> {
        // DataFusion keeps the filter and pushes it into the Parquet scan for pruning.
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        let format = ParquetFormat::default().with_options(state.table_options().parquet.clone());
        let table_schema = TableSchema::builder(evaluations_file_schema())
            .with_table_partition_cols(evaluations_partition_fields())
            .build();
        let source = format.file_source(table_schema);
        let target = state.config().target_partitions().max(1);
        let mut groups: Vec<Vec<PartitionedFile>> = vec![Vec::new(); target.min(self.files.len()).max(1)];
        let n = groups.len();
        for (i, f) in self.files.iter().enumerate() {
            groups[i % n].push(PartitionedFile::new(f.path.clone(), f.size).with_partition_values(vec![
                ScalarValue::Utf8(Some(f.cluster.clone())),
                ScalarValue::Utf8(Some(f.date.clone())),
            ]));
        }
        let config = FileScanConfigBuilder::new(ObjectStoreUrl::parse(LAKE_STORE_URL)?, source)
            .with_file_groups(groups.into_iter().filter(|g| !g.is_empty()).map(FileGroup::new).collect())
            .with_projection_indices(projection.cloned())?
            .with_limit(limit)
            .build();
        format.create_physical_plan(state, config).await
    }
}

/// The `snapshots` table contents.
pub fn snapshots_batch(snapshots: &[CatalogSnapshot]) -> Result<RecordBatch, arrow::error::ArrowError> {
    let s = |f: &dyn Fn(&CatalogSnapshot) -> String| {
        Arc::new(StringArray::from_iter_values(snapshots.iter().map(f))) as ArrayRef
    };
    let u = |f: &dyn Fn(&CatalogSnapshot) -> u64| {
        Arc::new(UInt64Array::from_iter_values(snapshots.iter().map(f))) as ArrayRef
    };
    let t = |f: &dyn Fn(&CatalogSnapshot) -> i64| {
        Arc::new(TimestampMicrosecondArray::from_iter_values(snapshots.iter().map(f)).with_timezone("UTC")) as ArrayRef
    };
    RecordBatch::try_new(
        snapshots_schema(),
        vec![
            s(&|c| c.record.snapshot_id.to_string()),
            s(&|c| c.record.cluster.to_string()),
            s(&|c| c.record.group_path.to_string()),
            u(&|c| c.seq),
            t(&|c| c.record.observed_at.timestamp_micros()),
            t(&|c| c.record.evaluated_at.timestamp_micros()),
            t(&|c| c.record.ingested_at.timestamp_micros()),
            s(&|c| c.record.agent.id.clone()),
            s(&|c| c.record.agent.version.clone()),
            s(&|c| c.record.policy_digest.clone()),
            s(&|c| c.record.inventory_digest.clone()),
            s(&|c| c.record.frameworks.join(",")),
            u(&|c| c.record.row_count),
            u(&|c| c.record.status_counts.pass),
            u(&|c| c.record.status_counts.fail),
            u(&|c| c.record.status_counts.warn),
            u(&|c| c.record.status_counts.skip),
            u(&|c| c.record.status_counts.error),
            s(&|c| c.record.object_path.clone()),
            u(&|c| c.record.object_size),
            s(&|c| c.record.object_sha256.clone()),
            s(&|c| c.entry_sha256.clone()),
        ],
    )
}
