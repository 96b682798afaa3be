//! `posture_at`, `posture_between` and `posture_diff`: time as table functions.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, AsArray, BooleanArray, RecordBatch, StringArray, StringBuilder, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use datafusion::catalog::{Session, TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{DFSchema, ScalarValue, plan_err};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType, col, lit};
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::{ExecutionPlan, PhysicalExpr};
use tarn_lake::{IndexedSnapshot, PostureEntry, Scope};
use tarn_model::Status;
use tarn_model::schema::{compacted_file_schema, evaluations_file_schema, timestamp_type, trace_fields};

use crate::args;
use crate::engine::Shared;
use crate::error::lake_err;
use crate::scan::{ScanFile, ScanSet, parquet_scan, pinned_strings};

fn str_value(s: &str) -> ScalarValue {
    ScalarValue::Utf8(Some(s.to_string()))
}

/// Partition values for a snapshot object: the trace columns, `cluster`, `date`.
fn trace_values(s: &IndexedSnapshot) -> Vec<ScalarValue> {
    vec![
        ScalarValue::UInt64(Some(s.seq)),
        str_value(&s.record.object_path),
        str_value(&s.record.object_sha256),
        str_value(&s.entry_sha256),
        str_value(s.record.cluster.as_str()),
        str_value(&s.record.observed_at.date_naive().format("%Y-%m-%d").to_string()),
    ]
}

fn cluster_date_fields() -> Vec<Field> {
    tarn_model::schema::evaluations_partition_fields()
}

/// Evaluation columns, trace columns, `cluster`, `date` (+ `stale` for `posture_at`).
pub fn posture_schema(with_stale: bool) -> SchemaRef {
    let mut fields: Vec<Field> = evaluations_file_schema().fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.extend(trace_fields());
    fields.extend(cluster_date_fields());
    if with_stale {
        fields.push(Field::new("stale", DataType::Boolean, false));
    }
    Arc::new(Schema::new(fields))
}

/// Scope argument: `''`/`'*'` all, `'/group'` a subtree, else a cluster; plus `cluster = ...`
/// filters pushed down from the query.
fn scope_arg(session: &dyn Session, func: &str, args: &[Expr], pos: usize) -> Result<Scope> {
    match args.get(pos) {
        None => Ok(Scope::All),
        Some(e) => {
            let s = args::string(session, func, pos + 1, e)?;
            Scope::parse(&s).map_err(|e| datafusion::common::plan_datafusion_err!("{func}: argument {}: {e}", pos + 1))
        }
    }
}

fn arity(func: &str, args: &[Expr], min: usize, max: usize, usage: &str) -> Result<()> {
    if args.len() < min || args.len() > max {
        return plan_err!("{func} takes {usage}; got {} argument(s)", args.len());
    }
    Ok(())
}

/// Clusters the query's own `cluster = ...` filters allow.
fn allowed_clusters(filters: &[Expr]) -> Option<HashSet<String>> {
    pinned_strings(filters, "cluster").map(|v| v.into_iter().collect())
}

// ---------------------------------------------------------------------------------------------

#[derive(Debug)]
pub struct PostureAtFunc(pub Arc<Shared>);

impl TableFunctionImpl for PostureAtFunc {
    fn call_with_args(&self, a: TableFunctionArgs<'_, '_>) -> Result<Arc<dyn TableProvider>> {
        let (exprs, session) = (a.exprs(), a.session());
        arity("posture_at", exprs, 1, 2, "(ts [, cluster or '/group'])")?;
        let at = args::time(session, "posture_at", 1, &exprs[0])?;
        let scope = scope_arg(session, "posture_at", exprs, 1)?;
        Ok(Arc::new(PostureAt { shared: self.0.clone(), at, scope }))
    }
}

/// Rows of every in-scope cluster's newest snapshot at or before `at`.
#[derive(Debug)]
struct PostureAt {
    shared: Arc<Shared>,
    at: DateTime<Utc>,
    scope: Scope,
}

#[async_trait]
impl TableProvider for PostureAt {
    fn schema(&self) -> SchemaRef {
        posture_schema(true)
    }
    fn table_type(&self) -> TableType {
        TableType::Temporary
    }
    fn supports_filters_pushdown(&self, f: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; f.len()])
    }
    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let postures =
            self.shared.index.latest_at(self.at, false, &self.scope, self.shared.staleness).await.map_err(lake_err)?;
        let allowed = allowed_clusters(filters);
        let files = postures
            .iter()
            .filter(|p| allowed.as_ref().is_none_or(|a| a.contains(p.snapshot.record.cluster.as_str())))
            .map(|p| {
                let mut values = trace_values(&p.snapshot);
                values.push(ScalarValue::Boolean(Some(p.stale)));
                ScanFile {
                    path: p.snapshot.record.object_path.clone(),
                    size: p.snapshot.record.object_size,
                    partition_values: values,
                }
            })
            .collect();
        let mut partitions = trace_fields();
        partitions.extend(cluster_date_fields());
        partitions.push(Field::new("stale", DataType::Boolean, false));
        let set = ScanSet { file_schema: evaluations_file_schema(), partition_fields: partitions, files };
        parquet_scan(state, set, projection, limit).await
    }
}

// ---------------------------------------------------------------------------------------------

#[derive(Debug)]
pub struct PostureBetweenFunc(pub Arc<Shared>);

impl TableFunctionImpl for PostureBetweenFunc {
    fn call_with_args(&self, a: TableFunctionArgs<'_, '_>) -> Result<Arc<dyn TableProvider>> {
        let (exprs, session) = (a.exprs(), a.session());
        arity("posture_between", exprs, 2, 3, "(t1, t2 [, cluster or '/group'])")?;
        let from = args::time(session, "posture_between", 1, &exprs[0])?;
        let to = args::time(session, "posture_between", 2, &exprs[1])?;
        if from > to {
            return plan_err!("posture_between: t1 ({from}) is after t2 ({to})");
        }
        let scope = scope_arg(session, "posture_between", exprs, 2)?;
        Ok(Arc::new(PostureBetween { shared: self.0.clone(), from, to, scope }))
    }
}

/// Every row of every in-scope snapshot observed within `[from, to]`, traceable to its signed
/// object. Reads compacted objects where the catalog has them.
#[derive(Debug)]
struct PostureBetween {
    shared: Arc<Shared>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    scope: Scope,
}

#[async_trait]
impl TableProvider for PostureBetween {
    fn schema(&self) -> SchemaRef {
        posture_schema(false)
    }
    fn table_type(&self) -> TableType {
        TableType::Temporary
    }
    fn supports_filters_pushdown(&self, f: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; f.len()])
    }
    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let snaps = self.shared.index.between(self.from, self.to, &self.scope).await.map_err(lake_err)?;
        let allowed = allowed_clusters(filters);
        let snaps: Vec<&Arc<IndexedSnapshot>> =
            snaps.iter().filter(|s| allowed.as_ref().is_none_or(|a| a.contains(s.record.cluster.as_str()))).collect();
        let mut originals = Vec::new();
        let mut compacted: BTreeMap<&str, (&IndexedSnapshot, u64)> = BTreeMap::new();
        // (object -> (a snapshot in it, object size))
        let mut wanted_ids: Vec<String> = Vec::new();
        for s in &snaps {
            match &s.compacted_object {
                Some(c) => {
                    compacted.entry(c.path.as_str()).or_insert((s, c.size));
                    wanted_ids.push(s.record.snapshot_id.to_string());
                }
                None => originals.push(ScanFile {
                    path: s.record.object_path.clone(),
                    size: s.record.object_size,
                    partition_values: trace_values(s),
                }),
            }
        }
        let mut partitions = trace_fields();
        partitions.extend(cluster_date_fields());
        let originals =
            ScanSet { file_schema: evaluations_file_schema(), partition_fields: partitions, files: originals };
        if compacted.is_empty() {
            return parquet_scan(state, originals, projection, limit).await;
        }
        let files = compacted
            .into_iter()
            .map(|(path, (s, size))| ScanFile {
                path: path.to_string(),
                size,
                partition_values: vec![
                    str_value(s.record.cluster.as_str()),
                    str_value(&s.record.observed_at.date_naive().format("%Y-%m-%d").to_string()),
                ],
            })
            .collect();
        let compacted =
            ScanSet { file_schema: compacted_file_schema(), partition_fields: cluster_date_fields(), files };
        // A compacted object may hold snapshots outside the range: keep only the wanted ones.
        let keep = col("snapshot_id").in_list(wanted_ids.into_iter().map(lit).collect(), false);
        let compacted_plan = filtered_scan(state, compacted, projection, keep, "snapshot_id").await?;
        if originals.files.is_empty() {
            return Ok(compacted_plan);
        }
        let originals_plan = parquet_scan(state, originals, projection, None).await?;
        datafusion::physical_plan::union::UnionExec::try_new(vec![originals_plan, compacted_plan])
    }
}

/// `set` scanned with `projection`, rows filtered by `predicate` (over column `needs`, read even
/// when not projected).
async fn filtered_scan(
    state: &dyn Session,
    set: ScanSet,
    projection: Option<&Vec<usize>>,
    predicate: Expr,
    needs: &str,
) -> Result<Arc<dyn ExecutionPlan>> {
    let table = set.table_schema();
    let wanted: Vec<usize> = projection.cloned().unwrap_or_else(|| (0..table.fields().len()).collect());
    let needed = table.index_of(needs)?;
    let mut scan_proj = wanted.clone();
    if !scan_proj.contains(&needed) {
        scan_proj.push(needed);
    }
    let scan = parquet_scan(state, set, Some(&scan_proj), None).await?;
    let df_schema = DFSchema::try_from(scan.schema().as_ref().clone())?;
    let pred = state.create_physical_expr(predicate, &df_schema)?;
    let filtered: Arc<dyn ExecutionPlan> = Arc::new(FilterExec::try_new(pred, scan)?);
    if scan_proj.len() == wanted.len() {
        return Ok(filtered);
    }
    let schema = filtered.schema();
    let exprs: Vec<(Arc<dyn PhysicalExpr>, String)> = (0..wanted.len())
        .map(|i| {
            (Arc::new(Column::new(schema.field(i).name(), i)) as Arc<dyn PhysicalExpr>, schema.field(i).name().clone())
        })
        .collect();
    Ok(Arc::new(ProjectionExec::try_new(exprs, filtered)?))
}

// ---------------------------------------------------------------------------------------------

#[derive(Debug)]
pub struct PostureDiffFunc(pub Arc<Shared>);

impl TableFunctionImpl for PostureDiffFunc {
    fn call_with_args(&self, a: TableFunctionArgs<'_, '_>) -> Result<Arc<dyn TableProvider>> {
        let (exprs, session) = (a.exprs(), a.session());
        arity("posture_diff", exprs, 2, 3, "(t1, t2 [, cluster or '/group'])")?;
        let t1 = args::time(session, "posture_diff", 1, &exprs[0])?;
        let t2 = args::time(session, "posture_diff", 2, &exprs[1])?;
        let scope = scope_arg(session, "posture_diff", exprs, 2)?;
        Ok(Arc::new(PostureDiff { shared: self.0.clone(), t1, t2, scope }))
    }
}

/// Per (cluster, workload, control): what changed between the posture at `t1` and at `t2`.
#[derive(Debug)]
struct PostureDiff {
    shared: Arc<Shared>,
    t1: DateTime<Utc>,
    t2: DateTime<Utc>,
    scope: Scope,
}

pub fn diff_schema() -> SchemaRef {
    let s = |n: &str| Field::new(n, DataType::Utf8, false);
    let o = |n: &str| Field::new(n, DataType::Utf8, true);
    let t = |n: &str| Field::new(n, timestamp_type(), true);
    Arc::new(Schema::new(vec![
        s("cluster"),
        s("group_path"),
        s("namespace"),
        s("workload_kind"),
        s("workload_name"),
        s("framework"),
        s("framework_version"),
        s("control_id"),
        s("severity"),
        s("change"),
        o("status_before"),
        o("status_after"),
        s("message"),
        o("snapshot_before"),
        o("snapshot_after"),
        t("observed_before"),
        t("observed_after"),
        Field::new("stale", DataType::Boolean, false),
    ]))
}

/// A resource's state for one control at one time.
#[derive(Debug, Clone)]
struct ResourceState {
    status: Status,
    framework_version: String,
    severity: String,
    message: String,
    group_path: String,
}

type ResourceKey = (String, String, String, String, String, String); // cluster, ns, kind, name, framework, control

fn failing(s: Status) -> bool {
    matches!(s, Status::Fail | Status::Error)
}

/// What one side of a diff holds: per-resource states and, per cluster, its snapshot.
struct Side {
    states: HashMap<ResourceKey, ResourceState>,
    clusters: HashMap<String, (String, DateTime<Utc>, bool)>,
}

async fn side(state: &dyn Session, postures: &[PostureEntry]) -> Result<Side> {
    let clusters = postures
        .iter()
        .map(|p| {
            let r = &p.snapshot.record;
            (r.cluster.to_string(), (r.snapshot_id.to_string(), r.observed_at, p.stale))
        })
        .collect();
    let files = postures
        .iter()
        .map(|p| ScanFile {
            path: p.snapshot.record.object_path.clone(),
            size: p.snapshot.record.object_size,
            partition_values: vec![str_value(p.snapshot.record.cluster.as_str())],
        })
        .collect();
    let set = ScanSet {
        file_schema: evaluations_file_schema(),
        partition_fields: vec![Field::new("cluster", DataType::Utf8, false)],
        files,
    };
    let table = set.table_schema();
    let names = [
        "cluster",
        "namespace",
        "workload_kind",
        "workload_name",
        "framework",
        "control_id",
        "status",
        "framework_version",
        "severity",
        "message",
        "group_path",
    ];
    let proj: Vec<usize> = names.iter().map(|n| table.index_of(n)).collect::<std::result::Result<_, _>>()?;
    let plan = parquet_scan(state, set, Some(&proj), None).await?;
    let batches = datafusion::physical_plan::collect(plan, state.task_ctx()).await?;
    let mut states: HashMap<ResourceKey, ResourceState> = HashMap::new();
    for b in batches {
        let c: Vec<&StringArray> = (0..names.len()).map(|i| b.column(i).as_string::<i32>()).collect();
        for i in 0..b.num_rows() {
            let status: Status = c[6].value(i).parse().unwrap_or(Status::Error);
            let key = (
                c[0].value(i).to_string(),
                c[1].value(i).to_string(),
                c[2].value(i).to_string(),
                c[3].value(i).to_string(),
                c[4].value(i).to_string(),
                c[5].value(i).to_string(),
            );
            let candidate = || ResourceState {
                status,
                framework_version: c[7].value(i).to_string(),
                severity: c[8].value(i).to_string(),
                message: c[9].value(i).to_string(),
                group_path: c[10].value(i).to_string(),
            };
            match states.get_mut(&key) {
                Some(cur) if status.resource_rank() > cur.status.resource_rank() => *cur = candidate(),
                Some(_) => {}
                None => {
                    states.insert(key, candidate());
                }
            }
        }
    }
    Ok(Side { states, clusters })
}

#[async_trait]
impl TableProvider for PostureDiff {
    fn schema(&self) -> SchemaRef {
        diff_schema()
    }
    fn table_type(&self) -> TableType {
        TableType::Temporary
    }
    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let idx = &self.shared.index;
        let st = self.shared.staleness;
        let (a, b) = futures::try_join!(
            idx.latest_at(self.t1, false, &self.scope, st),
            idx.latest_at(self.t2, false, &self.scope, st)
        )
        .map_err(lake_err)?;
        let (before, after) = futures::try_join!(side(state, &a), side(state, &b))?;
        let mut keys: Vec<&ResourceKey> = before.states.keys().chain(after.states.keys()).collect();
        keys.sort();
        keys.dedup();
        let mut out = DiffRows::default();
        for k in keys {
            let (x, y) = (before.states.get(k), after.states.get(k));
            let change = match (x.map(|s| failing(s.status)), y.map(|s| failing(s.status))) {
                (Some(true), Some(true)) => "still_failing",
                (Some(true), Some(false)) => "fixed",
                (Some(true), None) => "gone",
                (Some(false) | None, Some(true)) => "new",
                _ => continue,
            };
            let info = y.or(x).expect("one side present");
            let cb = before.clusters.get(&k.0);
            let ca = after.clusters.get(&k.0);
            out.push(k, info, change, x, y, cb, ca);
        }
        let batch = out.finish()?;
        Ok(MemorySourceConfig::try_new_exec(&[vec![batch]], diff_schema(), projection.cloned())?)
    }
}

#[derive(Default)]
struct DiffRows {
    text: [Vec<String>; 10],
    status_before: Vec<Option<&'static str>>,
    status_after: Vec<Option<&'static str>>,
    snap_before: Vec<Option<String>>,
    snap_after: Vec<Option<String>>,
    obs_before: Vec<Option<i64>>,
    obs_after: Vec<Option<i64>>,
    stale: Vec<bool>,
    message: Vec<String>,
}

type ClusterSnap = (String, DateTime<Utc>, bool);

impl DiffRows {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        k: &ResourceKey,
        info: &ResourceState,
        change: &str,
        x: Option<&ResourceState>,
        y: Option<&ResourceState>,
        cb: Option<&ClusterSnap>,
        ca: Option<&ClusterSnap>,
    ) {
        let vals = [
            k.0.as_str(),
            info.group_path.as_str(),
            k.1.as_str(),
            k.2.as_str(),
            k.3.as_str(),
            k.4.as_str(),
            info.framework_version.as_str(),
            k.5.as_str(),
            info.severity.as_str(),
            change,
        ];
        for (v, col) in vals.iter().zip(self.text.iter_mut()) {
            col.push((*v).to_string());
        }
        self.status_before.push(x.map(|s| s.status.as_str()));
        self.status_after.push(y.map(|s| s.status.as_str()));
        // The message that explains the change: the failing side's.
        let msg = match (x, y) {
            (_, Some(y)) if failing(y.status) => y.message.clone(),
            (Some(x), _) => x.message.clone(),
            (None, Some(y)) => y.message.clone(),
            (None, None) => String::new(),
        };
        self.message.push(msg);
        self.snap_before.push(cb.map(|c| c.0.clone()));
        self.snap_after.push(ca.map(|c| c.0.clone()));
        self.obs_before.push(cb.map(|c| c.1.timestamp_micros()));
        self.obs_after.push(ca.map(|c| c.1.timestamp_micros()));
        self.stale.push(cb.is_some_and(|c| c.2) || ca.is_some_and(|c| c.2));
    }

    fn finish(self) -> Result<RecordBatch> {
        let mut cols: Vec<ArrayRef> =
            self.text.iter().map(|v| Arc::new(StringArray::from_iter_values(v)) as ArrayRef).collect();
        let opt = |v: Vec<Option<&'static str>>| {
            let mut b = StringBuilder::new();
            for x in v {
                b.append_option(x);
            }
            Arc::new(b.finish()) as ArrayRef
        };
        cols.push(opt(self.status_before));
        cols.push(opt(self.status_after));
        cols.push(Arc::new(StringArray::from_iter_values(&self.message)));
        cols.push(Arc::new(StringArray::from(self.snap_before)));
        cols.push(Arc::new(StringArray::from(self.snap_after)));
        cols.push(Arc::new(TimestampMicrosecondArray::from(self.obs_before).with_timezone("UTC")));
        cols.push(Arc::new(TimestampMicrosecondArray::from(self.obs_after).with_timezone("UTC")));
        cols.push(Arc::new(BooleanArray::from(self.stale)));
        Ok(RecordBatch::try_new(diff_schema(), cols)?)
    }
}
