//! Tarn's query engine: read-only SQL over the evidence lake, on Apache DataFusion.
//!
//! The engine never lists the lake. The [`CatalogIndex`](tarn_lake::CatalogIndex) (checkpoint
//! and log tail) says which snapshots exist; tables and table functions hand DataFusion exactly
//! the Parquet objects a question needs, with partition and trace columns attached from the
//! catalog. Trends and compliance scores come from per-snapshot rollups and read no rows.
//!
//! ```text
//! CatalogIndex ──▶ evaluations / posture_at / posture_between ──▶ Parquet scans (objects named by the catalog)
//!              ├─▶ posture_diff                                 ──▶ two point-in-time scans, compared per resource
//!              ├─▶ compliance_at / compliance_trend             ──▶ rollups only
//!              └─▶ snapshots, rollups, clusters, groups (+ controls from the catalogs)
//! SQL ──▶ read-only guard ──▶ DataFusion (memory limit, timeout) ──▶ RecordBatches ──▶ table/csv/json/parquet
//! ```
//!
//! Tables and functions are documented in `schemas/query.md`; named queries live in `queries/`.

mod args;
mod cache;
mod compliance;
mod engine;
mod error;
pub mod format;
pub mod named;
mod posture;
mod remote;
mod scan;
mod tables;

pub use args::{parse_duration, parse_time};
pub use engine::{QueryEngine, QueryOptions};
pub use error::QueryError;
pub use remote::{ExecutorOptions, SchedulerOptions, run_executor, run_scheduler};
pub use scan::LAKE_STORE_URL;
pub use tables::{ControlInfo, EvaluationsTable};
