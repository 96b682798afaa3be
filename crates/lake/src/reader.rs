//! Reading a snapshot object's rows back (alert evaluation, rollups of old snapshots).

use arrow::array::{AsArray, StringArray};
use object_store::ObjectStoreExt;
use object_store::path::Path;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use tarn_model::{EvaluationRow, Severity};

use crate::error::{LakeError, Result};
use crate::store::Lake;

/// Which columns to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Columns {
    /// Resource, control and status: enough for rollups and transitions. Container, image,
    /// digest and message come back empty, severity as `info`.
    Rollup,
    /// Every row column.
    All,
}

const ROLLUP: &[&str] =
    &["namespace", "workload_kind", "workload_name", "framework", "framework_version", "control_id", "status"];
const ALL: &[&str] = &[
    "namespace",
    "workload_kind",
    "workload_name",
    "container",
    "image",
    "image_digest",
    "framework",
    "framework_version",
    "control_id",
    "status",
    "severity",
    "message",
];

/// The rows of one snapshot object. Snapshot objects are small: one GET, then only the wanted
/// columns are decoded.
pub async fn read_rows(lake: &Lake, object_path: &str, columns: Columns) -> Result<Vec<EvaluationRow>> {
    let corrupt = |reason: String| LakeError::CorruptCatalog { path: object_path.to_string(), reason };
    let perr = |source| LakeError::ParquetRead { path: object_path.to_string(), source };
    let bytes = lake.store().get(&Path::from(object_path)).await?.bytes().await?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes).map_err(perr)?;
    let wanted = match columns {
        Columns::Rollup => ROLLUP,
        Columns::All => ALL,
    };
    let schema = builder.schema().clone();
    let indices: Vec<usize> = wanted.iter().filter_map(|c| schema.index_of(c).ok()).collect();
    if indices.len() != wanted.len() {
        return Err(corrupt("missing evaluation columns".into()));
    }
    let mask = ProjectionMask::roots(builder.parquet_schema(), indices);
    let batches: Vec<_> =
        builder.with_projection(mask).build().map_err(perr)?.collect::<std::result::Result<_, _>>()?;
    let mut rows = Vec::new();
    for b in batches {
        let col = |n: &str| -> Result<Option<StringArray>> {
            match b.column_by_name(n) {
                None => Ok(None),
                Some(c) => {
                    c.as_string_opt::<i32>().cloned().map(Some).ok_or_else(|| corrupt(format!("{n} is not utf8")))
                }
            }
        };
        let text = |a: &Option<StringArray>, i: usize| a.as_ref().map(|a| a.value(i).to_string()).unwrap_or_default();
        let (ns, kind, name, container, image, digest, fw, ver, ctl, st, sev, msg) = (
            col("namespace")?,
            col("workload_kind")?,
            col("workload_name")?,
            col("container")?,
            col("image")?,
            col("image_digest")?,
            col("framework")?,
            col("framework_version")?,
            col("control_id")?,
            col("status")?,
            col("severity")?,
            col("message")?,
        );
        for i in 0..b.num_rows() {
            let severity = match &sev {
                Some(s) => serde_json::from_value::<Severity>(serde_json::Value::String(s.value(i).to_string()))
                    .map_err(|e| corrupt(format!("severity: {e}")))?,
                None => Severity::Info,
            };
            rows.push(EvaluationRow {
                namespace: text(&ns, i),
                workload_kind: text(&kind, i),
                workload_name: text(&name, i),
                container: text(&container, i),
                image: text(&image, i),
                image_digest: text(&digest, i),
                framework: text(&fw, i),
                framework_version: text(&ver, i),
                control_id: text(&ctl, i),
                status: text(&st, i).parse().map_err(corrupt)?,
                severity,
                message: text(&msg, i),
            });
        }
    }
    Ok(rows)
}
