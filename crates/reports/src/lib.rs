//! Compliance reports: SLSA, CIS and Pod Security Standards (and any custom framework) as PDF
//! and CSV, computed from the query engine's named `report_*` queries over a time range, signed
//! into the lake as evidence, on demand or on a schedule.
//!
//! ```text
//! ReportRequest ──▶ report::build (named queries on QueryEngine, snapshot signatures verified)
//!                     └─▶ Report ──▶ csv::files (schemas/report-csv.v1.md)
//!                                 └─▶ pdf::render (typst: reports/templates/report.typ)
//!                                      └─▶ publish: reports/files/… + signed reports/log entry
//! Schedule (YAML: cron + time zone) ──▶ schedule::due ──▶ the same, recorded per run
//! ```

pub mod csv;
mod error;
mod frame;
pub mod pdf;
pub mod publish;
pub mod report;
pub mod schedule;
pub mod typeset;

pub use error::ReportError;
pub use report::{Report, ReportRequest, ReportScope, build};
