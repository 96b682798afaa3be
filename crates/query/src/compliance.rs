//! `compliance_at` and `compliance_trend`: scores from the per-snapshot rollups, without
//! reading evaluation rows.
//!
//! Score math (`schemas/lake-v1.md`): a resource's status for a control is the worst of its rows;
//! evaluated = pass + fail + warn + error resources (skip is "not applicable"); control % =
//! pass ÷ evaluated, summed over the clusters in the group being scored; framework % = the mean of
//! the control percentages of controls with at least one evaluated resource. Controls are keyed
//! by framework and control id (versions of one framework score together). Stale clusters (no
//! snapshot within the staleness bound) are counted in `stale_clusters`, never scored.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Float64Array, RecordBatch, StringArray, TimestampMicrosecondArray, UInt64Array,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use datafusion::catalog::{Session, TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::plan_err;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, TableType};
use datafusion::physical_plan::ExecutionPlan;
use tarn_lake::index::ControlKey;
use tarn_lake::{IndexedSnapshot, Scope};
use tarn_model::schema::timestamp_type;

use crate::args;
use crate::engine::Shared;
use crate::error::lake_err;

/// What the scores are broken down by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    Framework,
    Cluster,
    Group,
    Control,
}

impl By {
    /// The name [`By::parse`] reads back.
    pub(crate) fn name(self) -> &'static str {
        match self {
            By::Framework => "framework",
            By::Cluster => "cluster",
            By::Group => "group",
            By::Control => "control",
        }
    }

    pub(crate) fn parse(func: &str, s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "framework" => Ok(By::Framework),
            "cluster" => Ok(By::Cluster),
            "group" => Ok(By::Group),
            "control" => Ok(By::Control),
            other => plan_err!("{func}: unknown breakdown {other:?} (expected framework, cluster, group or control)"),
        }
    }

    fn dim_fields(self, at: bool) -> Vec<Field> {
        let s = |n: &str| Field::new(n, DataType::Utf8, false);
        match self {
            By::Framework => vec![],
            By::Cluster if at => vec![
                s("cluster"),
                s("group_path"),
                s("snapshot_id"),
                Field::new("observed_at", timestamp_type(), false),
                Field::new("stale", DataType::Boolean, false),
            ],
            By::Cluster => vec![s("cluster"), s("group_path")],
            By::Group => vec![s("group_path")],
            By::Control => vec![s("control_id")],
        }
    }
}

fn schema(by: By, at: bool) -> SchemaRef {
    let u = |n: &str| Field::new(n, DataType::UInt64, false);
    let mut fields = if at {
        vec![Field::new("as_of", timestamp_type(), false)]
    } else {
        vec![Field::new("bucket_start", timestamp_type(), false), Field::new("bucket_end", timestamp_type(), false)]
    };
    fields.extend(by.dim_fields(at));
    fields.push(Field::new("framework", DataType::Utf8, false));
    fields.extend([
        u("clusters"),
        u("stale_clusters"),
        u("controls"),
        u("pass"),
        u("fail"),
        u("warn"),
        u("error"),
        u("evaluated"),
    ]);
    fields.push(Field::new("compliance_pct", DataType::Float64, true));
    Arc::new(Schema::new(fields))
}

/// Accumulated resource counts of one (group of rows, framework).
#[derive(Debug, Default)]
struct Acc {
    clusters: u64,
    /// control id -> pass, fail, warn, error
    controls: BTreeMap<Arc<str>, [u64; 4]>,
}

impl Acc {
    fn add(&mut self, control: &Arc<str>, cell: &tarn_lake::index::RollupCell) {
        let e = self.controls.entry(control.clone()).or_default();
        e[0] += cell.pass();
        e[1] += cell.fail();
        e[2] += cell.warn();
        e[3] += cell.error();
    }

    /// controls scored, pass, fail, warn, error, evaluated, compliance %
    fn totals(&self) -> (u64, [u64; 5], Option<f64>) {
        let mut t = [0u64; 5];
        let mut pcts = Vec::new();
        for c in self.controls.values() {
            let evaluated = c[0] + c[1] + c[2] + c[3];
            t[0] += c[0];
            t[1] += c[1];
            t[2] += c[2];
            t[3] += c[3];
            t[4] += evaluated;
            if evaluated > 0 {
                pcts.push(c[0] as f64 * 100.0 / evaluated as f64);
            }
        }
        let pct = (!pcts.is_empty()).then(|| pcts.iter().sum::<f64>() / pcts.len() as f64);
        (pcts.len() as u64, t, pct)
    }
}

/// Key of an output row: dimension values and framework.
type RowKey = (Vec<String>, Arc<str>);

/// One scoring pass: the snapshots in use at one time, split by the breakdown.
struct Scorer<'a> {
    by: By,
    keys: &'a [ControlKey],
    rows: BTreeMap<RowKey, Acc>,
    stale: HashMap<Vec<String>, u64>,
}

impl<'a> Scorer<'a> {
    fn new(by: By, keys: &'a [ControlKey]) -> Self {
        Self { by, keys, rows: BTreeMap::new(), stale: HashMap::new() }
    }

    fn dims(&self, s: &IndexedSnapshot, control: Option<&str>) -> Vec<String> {
        match self.by {
            By::Framework => vec![],
            By::Cluster => vec![s.record.cluster.to_string(), s.record.group_path.to_string()],
            By::Group => vec![s.record.group_path.to_string()],
            By::Control => vec![control.unwrap_or_default().to_string()],
        }
    }

    fn add(&mut self, s: &IndexedSnapshot) {
        let Some(cells) = s.rollups.get() else { return };
        let mut seen: Vec<RowKey> = Vec::new();
        for cell in cells.iter() {
            let k = &self.keys[cell.key as usize];
            let dims = self.dims(s, Some(&k.control_id));
            let key = (dims, k.framework.clone());
            let acc = self.rows.entry(key.clone()).or_default();
            acc.add(&k.control_id, cell);
            if !seen.contains(&key) {
                acc.clusters += 1;
                seen.push(key);
            }
        }
    }

    fn add_stale(&mut self, s: Option<&IndexedSnapshot>) {
        let dims = match (self.by, s) {
            (By::Framework | By::Control, _) => vec![],
            (_, Some(s)) => self.dims(s, None),
            (_, None) => return,
        };
        *self.stale.entry(dims).or_default() += 1;
    }

    fn stale_for(&self, dims: &[String]) -> u64 {
        match self.by {
            By::Framework | By::Control => self.stale.get(&Vec::new()).copied().unwrap_or(0),
            _ => self.stale.get(dims).copied().unwrap_or(0),
        }
    }
}

/// Columns under construction.
#[derive(Default)]
struct Columns {
    times: Vec<Vec<i64>>,
    dims: Vec<Vec<String>>,
    framework: Vec<String>,
    nums: [Vec<u64>; 8],
    pct: Vec<Option<f64>>,
}

impl Columns {
    fn push(&mut self, times: &[i64], dims: &[String], framework: &str, clusters: u64, stale: u64, acc: &Acc) {
        if self.times.is_empty() {
            self.times = vec![Vec::new(); times.len()];
            self.dims = vec![Vec::new(); dims.len()];
        }
        for (c, t) in self.times.iter_mut().zip(times) {
            c.push(*t);
        }
        for (c, d) in self.dims.iter_mut().zip(dims) {
            c.push(d.clone());
        }
        self.framework.push(framework.to_string());
        let (controls, t, pct) = acc.totals();
        for (c, v) in self.nums.iter_mut().zip([clusters, stale, controls, t[0], t[1], t[2], t[3], t[4]]) {
            c.push(v);
        }
        self.pct.push(pct);
    }

    fn finish(self, schema: SchemaRef, n_times: usize, dim_fields: &[Field]) -> Result<RecordBatch> {
        let mut cols: Vec<ArrayRef> = Vec::new();
        let rows = self.framework.len();
        let times = if self.times.is_empty() { vec![Vec::new(); n_times] } else { self.times };
        for t in times {
            cols.push(Arc::new(TimestampMicrosecondArray::from(t).with_timezone("UTC")));
        }
        let dims = if self.dims.is_empty() { vec![Vec::new(); dim_fields.len()] } else { self.dims };
        for (f, d) in dim_fields.iter().zip(dims) {
            cols.push(match f.data_type() {
                DataType::Boolean => Arc::new(BooleanArray::from(d.iter().map(|v| v == "true").collect::<Vec<_>>())),
                DataType::Timestamp(..) => Arc::new(
                    TimestampMicrosecondArray::from(
                        d.iter().map(|v| v.parse::<i64>().unwrap_or(0)).collect::<Vec<_>>(),
                    )
                    .with_timezone("UTC"),
                ),
                _ => Arc::new(StringArray::from_iter_values(d)),
            });
        }
        cols.push(Arc::new(StringArray::from_iter_values(&self.framework)));
        for n in self.nums {
            cols.push(Arc::new(UInt64Array::from(n)));
        }
        cols.push(Arc::new(Float64Array::from(self.pct)));
        debug_assert!(cols.iter().all(|c| c.len() == rows));
        Ok(RecordBatch::try_new(schema, cols)?)
    }
}

fn optional_string(session: &dyn Session, func: &str, exprs: &[Expr], pos: usize) -> Result<String> {
    exprs.get(pos).map(|e| args::string(session, func, pos + 1, e)).transpose().map(Option::unwrap_or_default)
}

fn scope_of(func: &str, s: &str) -> Result<Scope> {
    Scope::parse(s).map_err(|e| datafusion::common::plan_datafusion_err!("{func}: scope: {e}"))
}

// ---------------------------------------------------------------------------------------------

#[derive(Debug)]
pub struct ComplianceAtFunc(pub Arc<Shared>);

impl TableFunctionImpl for ComplianceAtFunc {
    fn call_with_args(&self, a: TableFunctionArgs<'_, '_>) -> Result<Arc<dyn TableProvider>> {
        let (exprs, session) = (a.exprs(), a.session());
        if exprs.is_empty() || exprs.len() > 3 {
            return plan_err!("compliance_at takes (ts [, by [, scope]]); got {} argument(s)", exprs.len());
        }
        let at = args::time(session, "compliance_at", 1, &exprs[0])?;
        let by = By::parse("compliance_at", &optional_string(session, "compliance_at", exprs, 1)?)?;
        let scope = scope_of("compliance_at", &optional_string(session, "compliance_at", exprs, 2)?)?;
        Ok(Arc::new(ComplianceAt { shared: self.0.clone(), at, by, scope }))
    }
}

#[derive(Debug)]
pub(crate) struct ComplianceAt {
    pub(crate) shared: Arc<Shared>,
    pub(crate) at: DateTime<Utc>,
    pub(crate) by: By,
    pub(crate) scope: Scope,
}

#[async_trait]
impl TableProvider for ComplianceAt {
    fn schema(&self) -> SchemaRef {
        schema(self.by, true)
    }
    fn table_type(&self) -> TableType {
        TableType::Temporary
    }
    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let idx = &self.shared.index;
        let postures = idx.latest_at(self.at, false, &self.scope, self.shared.staleness).await.map_err(lake_err)?;
        let snaps: Vec<Arc<IndexedSnapshot>> = postures.iter().map(|p| p.snapshot.clone()).collect();
        idx.ensure_rollups(&snaps).await.map_err(lake_err)?;
        let keys = idx.keys().snapshot();
        let mut cols = Columns::default();
        let at = self.at.timestamp_micros();
        if self.by == By::Cluster {
            // One scorer per cluster, stale ones included and flagged.
            for p in &postures {
                let mut sc = Scorer::new(By::Framework, &keys);
                sc.add(&p.snapshot);
                let r = &p.snapshot.record;
                let dims = vec![
                    r.cluster.to_string(),
                    r.group_path.to_string(),
                    r.snapshot_id.to_string(),
                    r.observed_at.timestamp_micros().to_string(),
                    p.stale.to_string(),
                ];
                for ((_, fw), acc) in &sc.rows {
                    cols.push(&[at], &dims, fw, 1, u64::from(p.stale), acc);
                }
            }
        } else {
            let mut sc = Scorer::new(self.by, &keys);
            for p in &postures {
                if p.stale {
                    sc.add_stale(Some(&p.snapshot));
                } else {
                    sc.add(&p.snapshot);
                }
            }
            for ((dims, fw), acc) in &sc.rows {
                cols.push(&[at], dims, fw, acc.clusters, sc.stale_for(dims), acc);
            }
        }
        let batch = cols.finish(self.schema(), 1, &self.by.dim_fields(true))?;
        Ok(MemorySourceConfig::try_new_exec(&[vec![batch]], self.schema(), projection.cloned())?)
    }
}

// ---------------------------------------------------------------------------------------------

/// Most buckets one call may produce.
const MAX_BUCKETS: i64 = 100_000;

#[derive(Debug)]
pub struct ComplianceTrendFunc(pub Arc<Shared>);

impl TableFunctionImpl for ComplianceTrendFunc {
    fn call_with_args(&self, a: TableFunctionArgs<'_, '_>) -> Result<Arc<dyn TableProvider>> {
        let (exprs, session) = (a.exprs(), a.session());
        let f = "compliance_trend";
        if exprs.len() < 3 || exprs.len() > 5 {
            return plan_err!("{f} takes (bucket, t1, t2 [, by [, scope]]); got {} argument(s)", exprs.len());
        }
        let bucket = args::duration(session, f, 1, &exprs[0])?;
        let from = args::time(session, f, 2, &exprs[1])?;
        let to = args::time(session, f, 3, &exprs[2])?;
        if from >= to {
            return plan_err!("{f}: t1 ({from}) must be before t2 ({to})");
        }
        let n = (to - from).num_microseconds().unwrap_or(i64::MAX) / bucket.num_microseconds().unwrap_or(1).max(1);
        if n >= MAX_BUCKETS {
            return plan_err!("{f}: {n} buckets of {bucket} between t1 and t2; use a larger bucket");
        }
        let by = By::parse(f, &optional_string(session, f, exprs, 3)?)?;
        let scope = scope_of(f, &optional_string(session, f, exprs, 4)?)?;
        Ok(Arc::new(ComplianceTrend { shared: self.0.clone(), bucket, from, to, by, scope }))
    }
}

/// Buckets `[t1 + k·bucket, t1 + (k+1)·bucket)` covering `[t1, t2)` (the last one cut at t2).
/// A bucket's score is the posture at its end: every cluster's newest snapshot observed before
/// the bucket's end, if it is within the staleness bound.
#[derive(Debug)]
pub(crate) struct ComplianceTrend {
    pub(crate) shared: Arc<Shared>,
    pub(crate) bucket: Duration,
    pub(crate) from: DateTime<Utc>,
    pub(crate) to: DateTime<Utc>,
    pub(crate) by: By,
    pub(crate) scope: Scope,
}

#[async_trait]
impl TableProvider for ComplianceTrend {
    fn schema(&self) -> SchemaRef {
        schema(self.by, false)
    }
    fn table_type(&self) -> TableType {
        TableType::Temporary
    }
    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let idx = &self.shared.index;
        let staleness = self.shared.staleness;
        let window_end = self.to - Duration::microseconds(1);
        let snaps = idx.between(self.from - staleness, window_end, &self.scope).await.map_err(lake_err)?;
        idx.ensure_rollups(&snaps).await.map_err(lake_err)?;
        let keys = idx.keys().snapshot();
        // Per cluster, its snapshots in time order (`between` sorts by cluster, then time).
        let mut per_cluster: BTreeMap<&str, Vec<&Arc<IndexedSnapshot>>> = BTreeMap::new();
        for s in &snaps {
            per_cluster.entry(s.record.cluster.as_str()).or_default().push(s);
        }
        let clusters: Vec<_> = idx
            .clusters()
            .filter(|c| self.scope.may_contain(&c.cluster))
            .filter(|c| c.first_observed_at.is_some_and(|f| f < self.to))
            .collect();
        let mut buckets = Vec::new();
        let mut start = self.from;
        while start < self.to {
            let end = (start + self.bucket).min(self.to);
            buckets.push((start, end));
            start = end;
        }
        let mut cols = Columns::default();
        let mut cursor: HashMap<&str, usize> = HashMap::new();
        for (start, end) in buckets {
            let mut sc = Scorer::new(self.by, &keys);
            for c in &clusters {
                if c.first_observed_at.is_none_or(|f| f >= end) {
                    continue;
                }
                let list = per_cluster.get(c.cluster.as_str()).map(Vec::as_slice).unwrap_or(&[]);
                let pos = cursor.entry(c.cluster.as_str()).or_insert(0);
                while *pos < list.len() && list[*pos].record.observed_at < end {
                    *pos += 1;
                }
                let latest = (*pos > 0).then(|| list[*pos - 1]);
                match latest {
                    Some(s) if end - s.record.observed_at <= staleness => {
                        if self.scope.admits(s) {
                            sc.add(s);
                        }
                    }
                    Some(s) => {
                        if self.scope.admits(s) {
                            sc.add_stale(Some(s));
                        }
                    }
                    // Reported before the window: stale throughout (unless scoped out by group).
                    None => {
                        if matches!(self.scope, Scope::All | Scope::Cluster(_)) {
                            sc.add_stale(None);
                        }
                    }
                }
            }
            let times = [start.timestamp_micros(), end.timestamp_micros()];
            for ((dims, fw), acc) in &sc.rows {
                cols.push(&times, dims, fw, acc.clusters, sc.stale_for(dims), acc);
            }
        }
        let batch = cols.finish(self.schema(), 2, &self.by.dim_fields(false))?;
        Ok(MemorySourceConfig::try_new_exec(&[vec![batch]], self.schema(), projection.cloned())?)
    }
}
