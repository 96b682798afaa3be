//! Table providers over the catalog index: `evaluations`, `snapshots`, `rollups`, `clusters`,
//! `groups` (and `controls`, registered by the engine from the framework catalogs).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, RecordBatch, StringArray, TimestampMicrosecondArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use async_trait::async_trait;
use chrono::NaiveDate;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::ScalarValue;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_plan::ExecutionPlan;
use tarn_lake::index::{rollups_batch, snapshots_batch};
use tarn_lake::{CatalogIndex, IndexedSnapshot};
use tarn_model::schema::{
    evaluations_file_schema, evaluations_partition_fields, evaluations_table_schema, rollups_schema, snapshots_schema,
    timestamp_type,
};

use crate::error::lake_err;
use crate::scan::{ScanFile, ScanSet, date_bounds, parquet_scan, pinned_strings, place_snapshots, remote, time_bounds};

/// The snapshots a whole-day table scan needs: days narrowed by filters on `cluster`, `date`
/// and `observed_at` (the filters themselves still run on the rows).
pub(crate) async fn snapshots_for_filters(index: &CatalogIndex, filters: &[Expr]) -> Result<Vec<Arc<IndexedSnapshot>>> {
    let clusters: Option<HashSet<String>> = pinned_strings(filters, "cluster").map(|v| v.into_iter().collect());
    let (t_lo, t_hi) = time_bounds(filters, "observed_at");
    let (d_lo, d_hi) = date_bounds(filters);
    let lo = [t_lo.map(|t| t.date_naive()), d_lo].into_iter().flatten().max();
    let hi = [t_hi.map(|t| t.date_naive()), d_hi].into_iter().flatten().min();
    let in_range = |d: &NaiveDate| lo.is_none_or(|l| *d >= l) && hi.is_none_or(|h| *d <= h);
    let dates: BTreeSet<NaiveDate> = match &clusters {
        Some(cs) => index
            .clusters()
            .filter(|c| cs.contains(c.cluster.as_str()))
            .flat_map(|c| {
                let (from, to) = (
                    lo.or_else(|| c.active_days.first().map(|r| r[0])),
                    hi.or_else(|| c.active_days.last().map(|r| r[1])),
                );
                match (from, to) {
                    (Some(f), Some(t)) => c.active_within(f, t).collect::<Vec<_>>(),
                    _ => Vec::new(),
                }
            })
            .collect(),
        None => index.dates().into_iter().filter(in_range).collect(),
    };
    let mut out = Vec::new();
    for day in index.days(dates).await.map_err(lake_err)? {
        out.extend(
            day.snapshots
                .iter()
                .filter(|s| clusters.as_ref().is_none_or(|cs| cs.contains(s.record.cluster.as_str())))
                .cloned(),
        );
    }
    Ok(out)
}

fn date_value(s: &IndexedSnapshot) -> ScalarValue {
    ScalarValue::Utf8(Some(s.record.observed_at.date_naive().format("%Y-%m-%d").to_string()))
}

/// The `evaluations` table: the rows of every committed snapshot, read from the objects the
/// catalog names (compacted objects where they exist), never from a listing.
#[derive(Debug)]
pub struct EvaluationsTable {
    index: Arc<CatalogIndex>,
}

impl EvaluationsTable {
    pub fn new(index: Arc<CatalogIndex>) -> Self {
        Self { index }
    }
}

#[async_trait]
impl TableProvider for EvaluationsTable {
    fn schema(&self) -> SchemaRef {
        evaluations_table_schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        // Used to skip catalog days and for Parquet pruning; DataFusion still applies them.
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let snaps = snapshots_for_filters(&self.index, filters).await?;
        // Compacted objects: only the rows of the snapshots the filters keep.
        let wanted: Vec<&Arc<IndexedSnapshot>> = snaps.iter().collect();
        let (compacted, originals) = place_snapshots(&wanted, remote(state));
        let mut files: Vec<ScanFile> = Vec::with_capacity(compacted.len() + originals.len());
        for (s, selection) in compacted {
            let c = s.compacted_object.as_ref().expect("placed as compacted");
            files.push(ScanFile {
                path: c.path.clone(),
                size: c.size,
                partition_values: vec![ScalarValue::Utf8(Some(s.record.cluster.to_string())), date_value(&s)],
                selection: Some(selection),
                range: None,
            });
        }
        for s in originals {
            let partition_values = vec![ScalarValue::Utf8(Some(s.record.cluster.to_string())), date_value(&s)];
            files.push(ScanFile::whole(s.record.object_path.clone(), s.record.object_size, partition_values));
        }
        let set =
            ScanSet { file_schema: evaluations_file_schema(), partition_fields: evaluations_partition_fields(), files };
        parquet_scan(state, set, projection, limit).await
    }
}

/// A table whose rows the catalog computes at scan time.
#[derive(Debug)]
pub struct CatalogTable {
    index: Arc<CatalogIndex>,
    kind: CatalogTableKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatalogTableKind {
    Snapshots,
    Rollups,
}

impl CatalogTable {
    pub fn new(index: Arc<CatalogIndex>, kind: CatalogTableKind) -> Self {
        Self { index, kind }
    }

    pub fn kind(&self) -> CatalogTableKind {
        self.kind
    }
}

#[async_trait]
impl TableProvider for CatalogTable {
    fn schema(&self) -> SchemaRef {
        match self.kind {
            CatalogTableKind::Snapshots => snapshots_schema(),
            CatalogTableKind::Rollups => rollups_schema(),
        }
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let snaps = snapshots_for_filters(&self.index, filters).await?;
        let batch = match self.kind {
            CatalogTableKind::Snapshots => snapshots_batch(&snaps),
            CatalogTableKind::Rollups => {
                self.index.ensure_rollups(&snaps).await.map_err(lake_err)?;
                rollups_batch(&snaps, &self.index.keys().snapshot())
            }
        }
        .map_err(lake_err)?;
        Ok(MemorySourceConfig::try_new_exec(&[vec![batch]], self.schema(), projection.cloned())?)
    }
}

/// `clusters`: one row per cluster with a log.
pub fn clusters_batch(index: &CatalogIndex) -> Result<RecordBatch> {
    let cs: Vec<_> = index.clusters().collect();
    let ts = |f: &dyn Fn(&tarn_lake::index::ClusterState) -> Option<i64>| {
        Arc::new(TimestampMicrosecondArray::from(cs.iter().map(|c| f(c)).collect::<Vec<_>>()).with_timezone("UTC"))
            as ArrayRef
    };
    let schema = clusters_schema();
    Ok(RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from_iter_values(cs.iter().map(|c| c.cluster.as_str()))),
            Arc::new(StringArray::from_iter_values(cs.iter().map(|c| c.group_path.as_str()))),
            Arc::new(UInt64Array::from_iter_values(cs.iter().map(|c| c.snapshots))),
            ts(&|c| c.first_observed_at.map(|t| t.timestamp_micros())),
            ts(&|c| c.last_observed_at.map(|t| t.timestamp_micros())),
            Arc::new(UInt64Array::from_iter_values(cs.iter().map(|c| c.head_seq))),
        ],
    )?)
}

pub fn clusters_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("cluster", DataType::Utf8, false),
        Field::new("group_path", DataType::Utf8, false),
        Field::new("snapshots", DataType::UInt64, false),
        Field::new("first_observed_at", timestamp_type(), true),
        Field::new("last_observed_at", timestamp_type(), true),
        Field::new("head_seq", DataType::UInt64, false),
    ]))
}

/// `groups`: every group path clusters report under, and every ancestor of one.
pub fn groups_batch(index: &CatalogIndex) -> Result<RecordBatch> {
    // path -> (direct clusters, clusters in the subtree)
    let mut groups: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    groups.insert("/".into(), (0, 0));
    for c in index.clusters() {
        let path = c.group_path.as_str();
        let mut prefix = String::new();
        groups.entry("/".into()).or_default().1 += 1;
        for seg in c.group_path.segments() {
            prefix.push('/');
            prefix.push_str(seg);
            groups.entry(prefix.clone()).or_default().1 += 1;
        }
        groups.entry(path.to_string()).or_default().0 += 1;
    }
    let parent = |p: &str| -> Option<String> {
        if p == "/" {
            return None;
        }
        let cut = p.rfind('/').unwrap_or(0);
        Some(if cut == 0 { "/".to_string() } else { p[..cut].to_string() })
    };
    let depth = |p: &str| if p == "/" { 0 } else { p.matches('/').count() as u64 };
    let paths: Vec<&String> = groups.keys().collect();
    Ok(RecordBatch::try_new(
        groups_schema(),
        vec![
            Arc::new(StringArray::from_iter_values(paths.iter().map(|p| p.as_str()))),
            Arc::new(StringArray::from(paths.iter().map(|p| parent(p)).collect::<Vec<_>>())),
            Arc::new(UInt64Array::from_iter_values(paths.iter().map(|p| depth(p)))),
            Arc::new(UInt64Array::from_iter_values(groups.values().map(|v| v.0))),
            Arc::new(UInt64Array::from_iter_values(groups.values().map(|v| v.1))),
        ],
    )?)
}

pub fn groups_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("group_path", DataType::Utf8, false),
        Field::new("parent", DataType::Utf8, true),
        Field::new("depth", DataType::UInt64, false),
        Field::new("clusters", DataType::UInt64, false),
        Field::new("clusters_total", DataType::UInt64, false),
    ]))
}

/// One control of a framework catalog, for the `controls` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlInfo {
    pub framework: String,
    pub framework_version: String,
    pub control_id: String,
    pub title: String,
    pub severity: String,
    pub description: String,
    pub remediation: String,
    /// Why a human must judge it, for controls Tarn does not automate.
    pub manual: Option<String>,
}

pub fn controls_schema() -> SchemaRef {
    let s = |n: &str| Field::new(n, DataType::Utf8, false);
    Arc::new(Schema::new(vec![
        s("framework"),
        s("framework_version"),
        s("control_id"),
        s("title"),
        s("severity"),
        s("description"),
        s("remediation"),
        Field::new("automated", DataType::Boolean, false),
        Field::new("manual_reason", DataType::Utf8, true),
    ]))
}

pub fn controls_batch(controls: &[ControlInfo]) -> Result<RecordBatch> {
    let s =
        |f: &dyn Fn(&ControlInfo) -> &str| Arc::new(StringArray::from_iter_values(controls.iter().map(f))) as ArrayRef;
    Ok(RecordBatch::try_new(
        controls_schema(),
        vec![
            s(&|c| &c.framework),
            s(&|c| &c.framework_version),
            s(&|c| &c.control_id),
            s(&|c| &c.title),
            s(&|c| &c.severity),
            s(&|c| &c.description),
            s(&|c| &c.remediation),
            Arc::new(BooleanArray::from(controls.iter().map(|c| c.manual.is_none()).collect::<Vec<_>>())),
            Arc::new(StringArray::from(controls.iter().map(|c| c.manual.clone()).collect::<Vec<_>>())),
        ],
    )?)
}

fn ts_field(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, Some("UTC".into())), nullable)
}

fn ts_array(v: impl IntoIterator<Item = Option<chrono::DateTime<chrono::Utc>>>) -> ArrayRef {
    Arc::new(
        TimestampMicrosecondArray::from(v.into_iter().map(|t| t.map(|t| t.timestamp_micros())).collect::<Vec<_>>())
            .with_timezone("UTC"),
    )
}

/// Schema of the `alerts` table: one row per emitted event (`schemas/query.md`).
pub fn alerts_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("event_id", DataType::Utf8, false),
        Field::new("type", DataType::Utf8, false),
        ts_field("time", false),
        ts_field("emitted_at", false),
        Field::new("rule", DataType::Utf8, false),
        Field::new("severity", DataType::Utf8, false),
        Field::new("cluster", DataType::Utf8, false),
        Field::new("group_path", DataType::Utf8, false),
        Field::new("subject", DataType::Utf8, false),
        Field::new("snapshot_id", DataType::Utf8, true),
        Field::new("seq", DataType::UInt64, true),
        Field::new("summary", DataType::Utf8, false),
        Field::new("sinks", DataType::Utf8, false),
        Field::new("event", DataType::Utf8, false),
    ]))
}

pub fn alerts_batch(events: &[tarn_lake::alerts::AlertRecord]) -> Result<RecordBatch> {
    let s = |f: &dyn Fn(&tarn_lake::alerts::AlertRecord) -> String| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(events.iter().map(f)))
    };
    Ok(RecordBatch::try_new(
        alerts_schema(),
        vec![
            s(&|e| e.event_id.clone()),
            s(&|e| e.event_type.clone()),
            ts_array(events.iter().map(|e| Some(e.time))),
            ts_array(events.iter().map(|e| Some(e.emitted_at))),
            s(&|e| e.rule.clone()),
            s(&|e| e.severity.clone()),
            s(&|e| e.cluster.clone()),
            s(&|e| e.group_path.clone()),
            s(&|e| e.subject.clone()),
            Arc::new(StringArray::from(events.iter().map(|e| e.snapshot_id.clone()).collect::<Vec<_>>())),
            Arc::new(UInt64Array::from(events.iter().map(|e| e.seq).collect::<Vec<_>>())),
            s(&|e| e.summary.clone()),
            s(&|e| e.sinks.join(",")),
            s(&|e| e.event.to_string()),
        ],
    )?)
}

/// Schema of `alert_deliveries`: one row per (event, sink), `pending` while queued.
pub fn deliveries_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("event_id", DataType::Utf8, false),
        Field::new("sink", DataType::Utf8, false),
        Field::new("status", DataType::Utf8, false),
        Field::new("attempts", DataType::UInt64, true),
        ts_field("queued_at", true),
        ts_field("settled_at", true),
        Field::new("http_status", DataType::UInt64, true),
        Field::new("last_error", DataType::Utf8, true),
    ]))
}

pub fn deliveries_batch(
    settled: &[tarn_lake::alerts::DeliveryRecord],
    pending: &[tarn_lake::alerts::OutboxEntry],
) -> Result<RecordBatch> {
    let n = settled.len() + pending.len();
    let mut event_id = Vec::with_capacity(n);
    let mut sink = Vec::with_capacity(n);
    let mut status = Vec::with_capacity(n);
    let mut attempts = Vec::with_capacity(n);
    let mut queued = Vec::with_capacity(n);
    let mut settled_at = Vec::with_capacity(n);
    let mut http = Vec::with_capacity(n);
    let mut error = Vec::with_capacity(n);
    for d in settled {
        event_id.push(d.event_id.clone());
        sink.push(d.sink.clone());
        status.push(d.status.as_str().to_string());
        attempts.push(Some(u64::from(d.attempts)));
        queued.push(None);
        settled_at.push(Some(d.settled_at));
        http.push(d.http_status.map(u64::from));
        error.push(d.last_error.clone());
    }
    for p in pending {
        event_id.push(p.event_id.clone());
        sink.push(p.sink.clone());
        status.push("pending".to_string());
        attempts.push(None);
        queued.push(Some(p.queued_at));
        settled_at.push(None);
        http.push(None);
        error.push(None);
    }
    Ok(RecordBatch::try_new(
        deliveries_schema(),
        vec![
            Arc::new(StringArray::from(event_id)),
            Arc::new(StringArray::from(sink)),
            Arc::new(StringArray::from(status)),
            Arc::new(UInt64Array::from(attempts)),
            ts_array(queued),
            ts_array(settled_at),
            Arc::new(UInt64Array::from(http)),
            Arc::new(StringArray::from(error)),
        ],
    )?)
}
