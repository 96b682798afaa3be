//! Tarn's evidence lake: signed, hash-chained evaluation snapshots as Hive-partitioned Parquet
//! on any object store.
//!
//! ```text
//!  rows ──▶ SnapshotWriter ──▶ evaluations/cluster=c/date=d/<id>.parquet   (zstd, sorted, sha256 streamed)
//!                 │
//!                 └─ sign(in-toto statement{object digest, record, log position})
//!                         └─▶ log/cluster=c/<seq>.json   (PutMode::Create, commits sha256 of seq-1)
//!  Catalog::load ◀── log entries  (readers see only committed snapshots)
//!  verify        ◀── logs + objects + signatures (+ witness) → VerifyReport
//! ```
//!
//! Main types: [`Lake`] (an object store from a URL), [`SnapshotWriter`], [`Catalog`],
//! [`verify::verify`]. Object keys are built only in [`paths`].
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use tarn_lake::{Lake, StoreOptions, SnapshotWriter, SnapshotInput, Catalog};
//! use tarn_model::{AgentInfo, SystemClock};
//! let lake = Lake::open("memory://", &StoreOptions::default()).unwrap();
//! let key = tarn_trust::keys::SigningKeyPair::generate();
//! let now = chrono::Utc::now();
//! let input = SnapshotInput {
//!     cluster: "c1".parse().unwrap(), group_path: "/acme".parse().unwrap(),
//!     observed_at: now, evaluated_at: now,
//!     agent: AgentInfo { id: "doc".into(), version: "0".into() },
//!     policy_digest: "sha256:00".into(), inventory_digest: "sha256:00".into(), frameworks: vec![],
//! };
//! SnapshotWriter::new(&lake, &key, &SystemClock).write(input, vec![]).await.unwrap();
//! assert_eq!(Catalog::load(&lake, None).await.unwrap().snapshots.len(), 1);
//! # });
//! ```

pub mod alerts;
pub mod catalog;
pub mod compact;
mod error;
pub mod index;
pub mod log;
pub mod paths;
pub mod reader;
pub mod reports;
mod store;
pub mod verify;
mod writer;

pub use catalog::{Catalog, CatalogSnapshot};
pub use error::{LakeError, Result};
pub use index::{
    CatalogIndex, CheckpointOutcome, CompactedRef, IndexedSnapshot, PostureEntry, Scope, write_checkpoint,
};
pub use store::{Lake, LakeDescriptor, StoreOptions};
pub use writer::{PreparedSnapshot, SnapshotInput, SnapshotWriter, WrittenSnapshot, rows_to_batch, writer_properties};
