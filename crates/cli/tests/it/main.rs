//! End-to-end tests of the `tarn` binary.

mod agent_run;
mod alerts;
mod common;
mod concurrency;
mod eval;
mod golden;
mod interop;
mod keys;
mod policies_cli;
mod posture;
mod query;
mod quickstart;
mod quickstart_evidence;
mod reports;
mod scan;
mod trust_cli;
