//! Tarn's query engine: read-only SQL over the evidence lake, on Apache DataFusion.
//!
//! The engine never lists `evaluations/`: the lake [`Catalog`](tarn_lake::Catalog) says which
//! snapshots are committed, and [`EvaluationsTable`] hands DataFusion exactly those Parquet
//! objects, with the Hive partition values (`cluster`, `date`) attached from the catalog.
//!
//! ```text
//! Catalog (log entries) ──▶ EvaluationsTable (files + partition values) ──▶ Parquet scan
//!                      └──▶ snapshots (in-memory table)
//! SQL ──▶ read-only guard ──▶ DataFusion (memory limit, timeout) ──▶ RecordBatches ──▶ table/csv/json
//! ```
//!
//! Tables: `evaluations` (one row per workload × container × control per snapshot) and
//! `snapshots` (one row per committed snapshot); see `schemas/lake-v1.md`.

mod engine;
mod error;
pub mod format;
mod tables;

pub use engine::{QueryEngine, QueryOptions};
pub use error::QueryError;
pub use tables::{EvaluationsTable, snapshots_batch};
