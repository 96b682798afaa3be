//! Tarn's agent: where inventories come from, and the loop that keeps judging them.
//!
//! ```text
//!   InventorySource (files | Kubernetes API) ──▶ Inventory
//!   PolicyDir (watched) ─────────────────────────┐
//!                                                ▼
//!   every interval, or when policies change:  evaluate ──▶ PreparedSnapshot
//!                                                ▼
//!                      Spool (local disk, first) ──▶ SnapshotWriter (lake) ──▶ removed from spool
//! ```
//!
//! The loop never stops on bad input (malformed documents and policies are reported and
//! skipped) or on storage failures (snapshots wait in the spool and are committed later, in
//! order, exactly once), and it exits between cycles on SIGTERM/SIGINT, never mid-snapshot.

mod error;
pub mod evidence;
pub mod kube_source;
pub mod policydir;
pub mod registry;
pub mod run;
pub mod source;
pub mod spool;

pub use error::AgentError;
