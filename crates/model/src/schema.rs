//! Arrow schemas of lake format v1 (documented in `schemas/lake-v1.md`, machine-readable in
//! `schemas/evaluations.v1.json`).
//!
//! The `cluster` and `date` columns of the `evaluations` table are Hive partition columns: they
//! live in the object key (`evaluations/cluster=<c>/date=<YYYY-MM-DD>/<id>.parquet`), not inside
//! the Parquet file, which is what DuckDB, Polars, Spark and DataFusion expect of Hive layouts.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// Timestamps are microseconds, UTC.
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// Columns stored in each evaluation Parquet object, in order.
pub fn evaluations_file_schema() -> SchemaRef {
    let s = |name: &str| Field::new(name, DataType::Utf8, false);
    let t = |name: &str| Field::new(name, timestamp_type(), false);
    Arc::new(Schema::new(vec![
        s("snapshot_id"),
        s("group_path"),
        s("namespace"),
        s("workload_kind"),
        s("workload_name"),
        s("container"),
        s("image"),
        s("image_digest"),
        s("framework"),
        s("framework_version"),
        s("control_id"),
        s("status"),
        s("severity"),
        s("message"),
        t("observed_at"),
        t("evaluated_at"),
        t("ingested_at"),
    ]))
}

/// Columns that trace a row to its signed evidence: the snapshot's log position and digests.
/// Compacted objects store them (a compacted object holds several snapshots); for snapshot
/// objects the query engine supplies them from the catalog.
pub fn trace_fields() -> Vec<Field> {
    vec![
        Field::new("seq", DataType::UInt64, false),
        Field::new("object_path", DataType::Utf8, false),
        Field::new("object_sha256", DataType::Utf8, false),
        Field::new("log_entry_sha256", DataType::Utf8, false),
    ]
}

/// Columns of a compacted object (`compacted/cluster=<c>/date=<d>/<id>.parquet`): the
/// evaluation columns, then [`trace_fields`] naming each row's original snapshot object.
pub fn compacted_file_schema() -> SchemaRef {
    let mut fields: Vec<Field> = evaluations_file_schema().fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.extend(trace_fields());
    Arc::new(Schema::new(fields))
}

/// Hive partition columns of `evaluations`, outermost first.
pub fn evaluations_partition_fields() -> Vec<Field> {
    vec![Field::new("cluster", DataType::Utf8, false), Field::new("date", DataType::Utf8, false)]
}

/// The logical `evaluations` table: file columns then partition columns.
pub fn evaluations_table_schema() -> SchemaRef {
    let file = evaluations_file_schema();
    let mut fields: Vec<Field> = file.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.extend(evaluations_partition_fields());
    Arc::new(Schema::new(fields))
}

/// Columns the writer sorts by (see [`crate::EvaluationRow::sort_key`]).
pub const EVALUATIONS_SORT_COLUMNS: [&str; 6] =
    ["namespace", "workload_kind", "workload_name", "container", "framework", "control_id"];

/// The `snapshots` table: one row per committed snapshot.
pub fn snapshots_schema() -> SchemaRef {
    let s = |name: &str| Field::new(name, DataType::Utf8, false);
    let t = |name: &str| Field::new(name, timestamp_type(), false);
    let u = |name: &str| Field::new(name, DataType::UInt64, false);
    Arc::new(Schema::new(vec![
        s("snapshot_id"),
        s("cluster"),
        s("group_path"),
        u("seq"),
        t("observed_at"),
        t("evaluated_at"),
        t("ingested_at"),
        s("agent_id"),
        s("agent_version"),
        s("policy_digest"),
        s("inventory_digest"),
        s("frameworks"),
        u("row_count"),
        u("pass_count"),
        u("fail_count"),
        u("warn_count"),
        u("skip_count"),
        u("error_count"),
        s("object_path"),
        u("object_size"),
        s("object_sha256"),
        s("log_entry_sha256"),
        Field::new("compacted_object", DataType::Utf8, true),
        Field::new("compacted_size", DataType::UInt64, true),
        Field::new("compacted_row_group", DataType::UInt64, true),
        Field::new("compacted_row_groups", DataType::UInt64, true),
        Field::new("compacted_row_offset", DataType::UInt64, true),
        Field::new("compacted_group_rows", DataType::UInt64, true),
    ]))
}

/// The `rollups` table (and the catalog's per-day rollup parts): one row per snapshot × control,
/// counting resources per resource status (see [`crate::ControlRollup`]).
pub fn rollups_schema() -> SchemaRef {
    let s = |name: &str| Field::new(name, DataType::Utf8, false);
    let u = |name: &str| Field::new(name, DataType::UInt64, false);
    Arc::new(Schema::new(vec![
        s("snapshot_id"),
        s("cluster"),
        s("group_path"),
        u("seq"),
        Field::new("observed_at", timestamp_type(), false),
        s("framework"),
        s("framework_version"),
        s("control_id"),
        u("pass"),
        u("fail"),
        u("warn"),
        u("skip"),
        u("error"),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_columns_exist_and_partitions_are_not_in_files() {
        let file = evaluations_file_schema();
        for c in EVALUATIONS_SORT_COLUMNS {
            assert!(file.field_with_name(c).is_ok(), "{c}");
        }
        for p in evaluations_partition_fields() {
            assert!(file.field_with_name(p.name()).is_err());
        }
        assert_eq!(evaluations_table_schema().fields().len(), file.fields().len() + 2);
    }
}

#[cfg(test)]
mod documented {
    //! The machine-readable schema files in `schemas/` must describe exactly what the code writes.
    use super::*;

    fn documented(file: &str) -> serde_json::Value {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schemas/");
        serde_json::from_str(&std::fs::read_to_string(format!("{path}{file}")).unwrap()).unwrap()
    }

    fn type_name(t: &DataType) -> String {
        match t {
            DataType::Utf8 => "utf8".into(),
            DataType::UInt64 => "uint64".into(),
            DataType::Timestamp(TimeUnit::Microsecond, Some(tz)) => format!("timestamp[us, {tz}]"),
            other => format!("{other:?}"),
        }
    }

    fn columns(v: &serde_json::Value, key: &str) -> Vec<(String, String, bool)> {
        v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap().to_string(),
                    c["type"].as_str().unwrap().to_string(),
                    c["nullable"].as_bool().unwrap(),
                )
            })
            .collect()
    }

    fn actual(fields: &[arrow_schema::FieldRef]) -> Vec<(String, String, bool)> {
        fields.iter().map(|f| (f.name().clone(), type_name(f.data_type()), f.is_nullable())).collect()
    }

    #[test]
    fn evaluations_json_matches_code() {
        let doc = documented("evaluations.v1.json");
        assert_eq!(columns(&doc, "columns"), actual(evaluations_file_schema().fields()));
        let parts: Vec<arrow_schema::FieldRef> = evaluations_partition_fields().into_iter().map(Arc::new).collect();
        assert_eq!(columns(&doc, "partition_columns"), actual(&parts));
        let order: Vec<&str> = doc["sort_order"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert_eq!(order, EVALUATIONS_SORT_COLUMNS);
        assert_eq!(doc["format_version"], crate::LAKE_FORMAT_VERSION);
    }

    #[test]
    fn snapshots_json_matches_code() {
        let doc = documented("snapshots.v1.json");
        assert_eq!(columns(&doc, "columns"), actual(snapshots_schema().fields()));
    }

    #[test]
    fn rollups_json_matches_code() {
        let doc = documented("rollups.v1.json");
        assert_eq!(columns(&doc, "columns"), actual(rollups_schema().fields()));
    }
}
