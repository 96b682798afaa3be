//! Tarn's domain model: the vocabulary every other crate speaks.
//!
//! - identifiers with validated syntax ([`ClusterName`], [`GroupPath`], [`SnapshotId`]),
//! - one evaluation result ([`EvaluationRow`]: one row per workload × container × image × control),
//! - the per-snapshot record committed to the lake's log ([`SnapshotRecord`]),
//! - the Arrow schemas of lake format v1 ([`schema`]),
//! - an injectable [`Clock`].
//!
//! Data flow: inventory → evaluator → `Vec<EvaluationRow>` → lake writer (Parquet + signed
//! [`SnapshotRecord`] in the cluster log) → query engine.
//!
//! ```
//! use tarn_model::{ClusterName, GroupPath};
//! let c: ClusterName = "prod-eu-1".parse().unwrap();
//! let g: GroupPath = "/acme/prod".parse().unwrap();
//! assert_eq!(g.segments().count(), 2);
//! assert_eq!(c.as_str(), "prod-eu-1");
//! ```

mod clock;
mod glob;
mod ids;
mod row;
pub mod schema;
mod snapshot;

pub use clock::{Clock, FixedClock, SystemClock};
pub use glob::glob_match;
pub use ids::{ClusterName, GroupPath, IdError, SnapshotId};
pub use row::{EvaluationRow, Severity, Status, StatusCounts};
pub use snapshot::{AgentInfo, ControlRollup, SnapshotRecord};

/// Version of the lake format written by this build. Readers accept every version up to this one.
pub const LAKE_FORMAT_VERSION: u32 = 1;

/// Tarn's own version, recorded in snapshots and reports.
pub const TARN_VERSION: &str = env!("CARGO_PKG_VERSION");
