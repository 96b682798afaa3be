//! Parquet scans over explicit object lists handed out by the catalog (never a listing).

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::catalog::Session;
use datafusion::common::ScalarValue;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::ParquetAccessPlan;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder};
use datafusion::datasource::table_schema::TableSchema;
use datafusion::error::Result;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;

/// URL under which the lake's object store is registered with DataFusion.
pub const LAKE_STORE_URL: &str = "tarn://lake/";

/// One object to read, with the values of the scan's partition columns.
#[derive(Debug, Clone)]
pub struct ScanFile {
    pub path: String,
    pub size: u64,
    pub partition_values: Vec<ScalarValue>,
    /// Read only these rows: a compacted object's wanted snapshots.
    pub selection: Option<Selection>,
    /// Read only the row groups that start in this byte range (a scan for Ballista).
    pub range: Option<(i64, i64)>,
}

impl ScanFile {
    pub fn whole(path: String, size: u64, partition_values: Vec<ScalarValue>) -> Self {
        Self { path, size, partition_values, selection: None, range: None }
    }
}

/// The rows of a compacted object a scan wants: for each wanted snapshot, where its rows are.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Row groups in the object.
    pub row_groups: usize,
    pub parts: Vec<Part>,
}

/// One snapshot's rows in a compacted object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Part {
    pub row_group: usize,
    pub offset: u64,
    pub rows: u64,
    /// Rows in the row group.
    pub group_rows: u64,
}

impl Selection {
    pub fn add(&mut self, c: &tarn_lake::CompactedRef, rows: u64) {
        self.row_groups = c.row_groups as usize;
        self.parts.push(Part { row_group: c.row_group as usize, offset: c.row_offset, rows, group_rows: c.group_rows });
    }

    /// Every row group it touches is wanted whole (the parts of a group never overlap).
    pub fn whole_groups(&self) -> bool {
        let mut wanted: BTreeMap<usize, (u64, u64)> = BTreeMap::new();
        for p in &self.parts {
            let e = wanted.entry(p.row_group).or_insert((0, p.group_rows));
            e.0 += p.rows;
        }
        wanted.values().all(|(rows, total)| rows == total)
    }

    /// Wanted row groups, ascending.
    fn groups(&self) -> Vec<usize> {
        let mut g: Vec<usize> = self.parts.iter().map(|p| p.row_group).collect();
        g.sort_unstable();
        g.dedup();
        g
    }

    /// The fraction of the object's bytes this reads, roughly.
    fn share(&self) -> f64 {
        let rows: u64 = self.parts.iter().map(|p| p.rows).sum();
        let mut touched: BTreeMap<usize, u64> = BTreeMap::new();
        for p in &self.parts {
            touched.insert(p.row_group, p.group_rows);
        }
        let in_groups: u64 = touched.values().sum();
        (rows as f64 / in_groups.max(1) as f64) * (touched.len() as f64 / self.row_groups.max(1) as f64)
    }

    /// Whole row groups where every row is wanted, row selections elsewhere.
    fn access_plan(&self) -> ParquetAccessPlan {
        use datafusion::datasource::physical_plan::parquet::RowGroupAccess;
        use datafusion::parquet::arrow::arrow_reader::{RowSelection, RowSelector};
        let mut plan = ParquetAccessPlan::new_none(self.row_groups);
        let mut parts = self.parts.clone();
        parts.sort_unstable();
        for g in self.groups() {
            let mine: Vec<&Part> = parts.iter().filter(|p| p.row_group == g).collect();
            let total = mine[0].group_rows;
            if mine.iter().map(|p| p.rows).sum::<u64>() == total {
                plan.scan(g);
                continue;
            }
            let mut selectors = Vec::with_capacity(mine.len() * 2 + 1);
            let mut at = 0u64;
            for p in mine {
                if p.offset > at {
                    selectors.push(RowSelector::skip((p.offset - at) as usize));
                }
                selectors.push(RowSelector::select(p.rows as usize));
                at = p.offset + p.rows;
            }
            if at < total {
                selectors.push(RowSelector::skip((total - at) as usize));
            }
            plan.set(g, RowGroupAccess::Selection(RowSelection::from(selectors)));
        }
        plan
    }
}

type Snap = Arc<tarn_lake::IndexedSnapshot>;

/// Where a scan reads snapshots from: compacted objects (with the rows wanted from each) and
/// originals. On Ballista (`remote`), whose scans select row groups by byte range, a snapshot
/// whose row group is only partly wanted is read from its original instead.
pub fn place_snapshots(
    snaps: &[&Arc<tarn_lake::IndexedSnapshot>],
    remote: bool,
) -> (Vec<(Snap, Selection)>, Vec<Snap>) {
    // compacted object -> (its first wanted snapshot, selection, the snapshots)
    let mut compacted: BTreeMap<&str, (Selection, Vec<&Arc<tarn_lake::IndexedSnapshot>>)> = BTreeMap::new();
    let mut originals = Vec::new();
    for s in snaps {
        match &s.compacted_object {
            Some(c) => {
                let e = compacted.entry(c.path.as_str()).or_default();
                e.0.add(c, s.record.row_count);
                e.1.push(s);
            }
            None => originals.push(Arc::clone(s)),
        }
    }
    let mut out = Vec::with_capacity(compacted.len());
    for (_, (selection, members)) in compacted {
        if remote && !selection.whole_groups() {
            originals.extend(members.into_iter().cloned());
        } else {
            out.push((Arc::clone(members[0]), selection));
        }
    }
    (out, originals)
}

/// Whether scans planned in this session run on Ballista.
pub fn remote(state: &dyn Session) -> bool {
    state.config().get_extension::<crate::remote::RemoteScans>().is_some()
}

/// Objects with one file schema and one set of partition columns.
#[derive(Debug, Clone)]
pub struct ScanSet {
    pub file_schema: SchemaRef,
    pub partition_fields: Vec<Field>,
    pub files: Vec<ScanFile>,
}

impl ScanSet {
    /// File columns then partition columns.
    pub fn table_schema(&self) -> SchemaRef {
        let mut fields: Vec<Field> = self.file_schema.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.extend(self.partition_fields.iter().cloned());
        Arc::new(Schema::new(fields))
    }
}

/// A Parquet scan of `set`, projected; files spread over the session's target partitions,
/// largest first so the groups come out even.
pub async fn parquet_scan(
    state: &dyn Session,
    set: ScanSet,
    projection: Option<&Vec<usize>>,
    limit: Option<usize>,
) -> Result<Arc<dyn ExecutionPlan>> {
    if set.files.is_empty() {
        let schema = set.table_schema();
        let projected = match projection {
            Some(p) => Arc::new(schema.project(p)?),
            None => schema,
        };
        return Ok(Arc::new(EmptyExec::new(projected)));
    }
    let mut set = set;
    if remote(state) {
        // On Ballista: access plans do not survive protobuf; byte ranges do.
        let store = state.runtime_env().object_store(ObjectStoreUrl::parse(LAKE_STORE_URL)?)?;
        set.files = row_groups_as_ranges(&store, set.files).await?;
    }
    let n = state.config().target_partitions().max(1).min(set.files.len());
    let format = ParquetFormat::default().with_options(state.table_options().parquet.clone());
    let table_schema = TableSchema::builder(set.file_schema.clone())
        .with_table_partition_cols(set.partition_fields.iter().cloned().map(Arc::new).collect::<Vec<_>>())
        .build();
    let source = format.file_source(table_schema);
    let config = FileScanConfigBuilder::new(ObjectStoreUrl::parse(LAKE_STORE_URL)?, source)
        .with_file_groups(file_groups(set.files, n))
        .with_projection_indices(projection.cloned())?
        .with_limit(limit)
        .build();
    format.create_physical_plan(state, config).await
}

/// `files` spread over `n` groups, largest first so the groups come out even; a compacted
/// object's wanted row groups become its access plan.
pub fn file_groups(mut files: Vec<ScanFile>, n: usize) -> Vec<FileGroup> {
    let n = n.max(1).min(files.len().max(1));
    files.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.path.cmp(&b.path)));
    let mut groups: Vec<(u64, Vec<PartitionedFile>)> = vec![(0, Vec::new()); n];
    for f in files {
        let slot = groups.iter_mut().min_by_key(|g| g.0).expect("at least one group");
        let mut file = PartitionedFile::new(f.path, f.size).with_partition_values(f.partition_values);
        if let Some((start, end)) = f.range {
            slot.0 += (end - start).max(0) as u64;
            file = file.with_range(start, end);
        } else if let Some(selection) = f.selection {
            slot.0 += (f.size as f64 * selection.share()) as u64;
            file = file.with_extension(selection.access_plan());
        } else {
            slot.0 += f.size;
        }
        slot.1.push(file);
    }
    groups.into_iter().map(|g| FileGroup::new(g.1)).collect()
}

/// Each object read by whole row groups becomes one file per run of consecutive wanted row
/// groups, with the byte range those row groups start in (DataFusion reads a row group when its first
/// page starts inside a file's range). The footers come through the session's object store
/// (cached: compacted objects are immutable).
async fn row_groups_as_ranges(
    store: &Arc<dyn object_store::ObjectStore>,
    files: Vec<ScanFile>,
) -> Result<Vec<ScanFile>> {
    let mut out = Vec::with_capacity(files.len());
    for f in files {
        let Some(selection) = &f.selection else {
            out.push(f);
            continue;
        };
        if !selection.whole_groups() {
            return Err(datafusion::error::DataFusionError::Internal(format!(
                "{}: part of a row group cannot be selected by byte range",
                f.path
            )));
        }
        let (wanted, total) = (selection.groups(), &selection.row_groups);
        let meta = footer(store, &f.path, f.size).await?;
        let groups = meta.row_groups();
        if groups.len() != *total {
            return Err(datafusion::error::DataFusionError::Execution(format!(
                "{}: {} row groups, the catalog says {total}",
                f.path,
                groups.len()
            )));
        }
        let start_of = |i: usize| -> i64 {
            groups.get(i).map_or(f.size as i64, |g| {
                let c = g.column(0);
                c.dictionary_page_offset().unwrap_or_else(|| c.data_page_offset())
            })
        };
        let mut i = 0;
        while i < wanted.len() {
            let first = wanted[i];
            let mut last = first;
            while i + 1 < wanted.len() && wanted[i + 1] == last + 1 {
                i += 1;
                last = wanted[i];
            }
            i += 1;
            out.push(ScanFile {
                path: f.path.clone(),
                size: f.size,
                partition_values: f.partition_values.clone(),
                selection: None,
                range: Some((start_of(first), start_of(last + 1))),
            });
        }
    }
    Ok(out)
}

/// A Parquet object's metadata: one read of its tail (a second when the footer is larger).
async fn footer(
    store: &Arc<dyn object_store::ObjectStore>,
    path: &str,
    size: u64,
) -> Result<parquet::file::metadata::ParquetMetaData> {
    use object_store::ObjectStoreExt;
    let bad = |what: &str| datafusion::error::DataFusionError::Execution(format!("{path}: {what}"));
    let location = object_store::path::Path::from(path);
    let tail_len = size.min(64 << 10);
    let tail = store.get_range(&location, size - tail_len..size).await?;
    if tail.len() < 8 || &tail[tail.len() - 4..] != b"PAR1" {
        return Err(bad("not a Parquet object"));
    }
    let n = tail.len();
    let meta_len = u32::from_le_bytes(tail[n - 8..n - 4].try_into().expect("4 bytes")) as u64;
    if meta_len + 8 > size {
        return Err(bad("footer longer than the object"));
    }
    let bytes = if meta_len + 8 <= tail_len {
        tail.slice(n - 8 - meta_len as usize..n - 8)
    } else {
        store.get_range(&location, size - 8 - meta_len..size - 8).await?
    };
    parquet::file::metadata::ParquetMetaDataReader::decode_metadata(&bytes).map_err(|e| bad(&e.to_string()))
}

/// Literal string values a filter set pins `column` to (`col = 'x'`, `col IN ('x', 'y')`),
/// when every value of the column must be one of them; `None` when unconstrained.
pub fn pinned_strings(filters: &[Expr], column: &str) -> Option<Vec<String>> {
    use datafusion::logical_expr::{BinaryExpr, Operator};
    let is_col = |e: &Expr| matches!(e, Expr::Column(c) if c.name == column);
    let lit = |e: &Expr| match e {
        Expr::Literal(
            ScalarValue::Utf8(Some(s)) | ScalarValue::Utf8View(Some(s)) | ScalarValue::LargeUtf8(Some(s)),
            _,
        ) => Some(s.clone()),
        _ => None,
    };
    let mut out: Option<Vec<String>> = None;
    for f in filters {
        let vals = match f {
            Expr::BinaryExpr(BinaryExpr { left, op: Operator::Eq, right }) => {
                if is_col(left) {
                    lit(right).map(|v| vec![v])
                } else if is_col(right) {
                    lit(left).map(|v| vec![v])
                } else {
                    None
                }
            }
            Expr::InList(l) if !l.negated && is_col(&l.expr) => l.list.iter().map(lit).collect(),
            _ => None,
        };
        if let Some(v) = vals {
            out = Some(match out {
                None => v,
                Some(prev) => prev.into_iter().filter(|p| v.contains(p)).collect(),
            });
        }
    }
    out
}

/// Bounds `[lo, hi]` a filter set puts on a timestamp column (comparisons with literals,
/// `BETWEEN`); used only to skip catalog days, the filters themselves still run.
pub fn time_bounds(
    filters: &[Expr],
    column: &str,
) -> (Option<chrono::DateTime<chrono::Utc>>, Option<chrono::DateTime<chrono::Utc>>) {
    use datafusion::logical_expr::{Between, BinaryExpr, Operator};
    let is_col = |e: &Expr| matches!(e, Expr::Column(c) if c.name == column);
    let ts = |e: &Expr| -> Option<chrono::DateTime<chrono::Utc>> {
        let micros = match e {
            Expr::Literal(ScalarValue::TimestampMicrosecond(Some(v), _), _) => Some(*v),
            Expr::Literal(ScalarValue::TimestampNanosecond(Some(v), _), _) => Some(v.div_euclid(1000)),
            Expr::Literal(ScalarValue::TimestampMillisecond(Some(v), _), _) => v.checked_mul(1000),
            Expr::Literal(ScalarValue::TimestampSecond(Some(v), _), _) => v.checked_mul(1_000_000),
            _ => None,
        }?;
        chrono::DateTime::from_timestamp_micros(micros)
    };
    let (mut lo, mut hi) = (None, None);
    let mut lower =
        |t: chrono::DateTime<chrono::Utc>| lo = Some(lo.map_or(t, |l: chrono::DateTime<chrono::Utc>| l.max(t)));
    let mut upper =
        |t: chrono::DateTime<chrono::Utc>| hi = Some(hi.map_or(t, |h: chrono::DateTime<chrono::Utc>| h.min(t)));
    for f in filters {
        match f {
            Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
                let (op, t) = if is_col(left) {
                    (*op, ts(right))
                } else if is_col(right) {
                    (op.swap().unwrap_or(*op), ts(left))
                } else {
                    continue;
                };
                let Some(t) = t else { continue };
                match op {
                    Operator::Eq => {
                        lower(t);
                        upper(t);
                    }
                    Operator::Gt | Operator::GtEq => lower(t),
                    Operator::Lt | Operator::LtEq => upper(t),
                    _ => {}
                }
            }
            Expr::Between(Between { expr, negated: false, low, high }) if is_col(expr) => {
                if let Some(t) = ts(low) {
                    lower(t);
                }
                if let Some(t) = ts(high) {
                    upper(t);
                }
            }
            _ => {}
        }
    }
    (lo, hi)
}

/// Bounds on the `date` partition column (`'YYYY-MM-DD'` strings compared with literals).
pub fn date_bounds(filters: &[Expr]) -> (Option<chrono::NaiveDate>, Option<chrono::NaiveDate>) {
    use datafusion::logical_expr::{Between, BinaryExpr, Operator};
    let is_col = |e: &Expr| matches!(e, Expr::Column(c) if c.name == "date");
    let date = |e: &Expr| match e {
        Expr::Literal(ScalarValue::Utf8(Some(s)) | ScalarValue::Utf8View(Some(s)), _) => s.parse().ok(),
        _ => None,
    };
    let (mut lo, mut hi): (Option<chrono::NaiveDate>, Option<chrono::NaiveDate>) = (None, None);
    for f in filters {
        match f {
            Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
                let (op, d) = if is_col(left) {
                    (*op, date(right))
                } else if is_col(right) {
                    (op.swap().unwrap_or(*op), date(left))
                } else {
                    continue;
                };
                let Some(d) = d else { continue };
                match op {
                    Operator::Eq => {
                        lo = Some(lo.map_or(d, |l| l.max(d)));
                        hi = Some(hi.map_or(d, |h| h.min(d)));
                    }
                    Operator::Gt | Operator::GtEq => lo = Some(lo.map_or(d, |l| l.max(d))),
                    Operator::Lt | Operator::LtEq => hi = Some(hi.map_or(d, |h| h.min(d))),
                    _ => {}
                }
            }
            Expr::Between(Between { expr, negated: false, low, high }) if is_col(expr) => {
                if let Some(d) = date(low) {
                    lo = Some(lo.map_or(d, |l| l.max(d)));
                }
                if let Some(d) = date(high) {
                    hi = Some(hi.map_or(d, |h| h.min(d)));
                }
            }
            _ => {}
        }
    }
    (lo, hi)
}

#[cfg(test)]
mod tests {
    use datafusion::datasource::physical_plan::parquet::RowGroupAccess;
    use datafusion::parquet::arrow::arrow_reader::{RowSelection, RowSelector};

    use super::*;

    #[test]
    fn access_plan_reads_exactly_the_wanted_sources_rows() {
        let part = |row_group, offset, rows, group_rows| Part { row_group, offset, rows, group_rows };
        // Three sources of 6, 7 and 6 rows in row group 0, one of 4 in row group 1 (of 3).
        let s = Selection { row_groups: 3, parts: vec![part(0, 13, 6, 19), part(0, 0, 6, 19), part(1, 0, 4, 4)] };
        assert!(!s.whole_groups());
        let plan = s.access_plan();
        let want = [
            RowGroupAccess::Selection(RowSelection::from(vec![
                RowSelector::select(6),
                RowSelector::skip(7),
                RowSelector::select(6),
            ])),
            RowGroupAccess::Scan,
            RowGroupAccess::Skip,
        ];
        assert_eq!(plan.inner(), want);
        let all = Selection { row_groups: 1, parts: vec![part(0, 0, 6, 13), part(0, 6, 7, 13)] };
        assert!(all.whole_groups());
        assert_eq!(all.access_plan().inner(), [RowGroupAccess::Scan]);
    }
}
