use tarn_model::IdError;

/// Errors from the lake.
#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    #[error("invalid lake location {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("object store error: {0}")]
    Store(#[from] object_store::Error),
    #[error("parquet error writing {path}: {source}")]
    Parquet { path: String, source: parquet::errors::ParquetError },
    #[error("arrow error: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("signing failed: {0}")]
    Trust(#[from] tarn_trust::TrustError),
    #[error("corrupt log entry {path}: {reason}")]
    CorruptEntry { path: String, reason: String },
    #[error("could not commit to the log of cluster {cluster} after {attempts} attempts (contention)")]
    Contention { cluster: String, attempts: u32 },
    #[error("lake at {url} was written by a newer Tarn (format {found}, this build reads up to {supported})")]
    UnsupportedFormat { url: String, found: u32, supported: u32 },
    #[error("{url} is not a Tarn lake: {reason}")]
    NotALake { url: String, reason: String },
    #[error(
        "the object store at {url} does not honour conditional creates (If-None-Match); refusing to write, as concurrent writers could fork the log"
    )]
    NoConditionalCreate { url: String },
    #[error(transparent)]
    Id(#[from] IdError),
    #[error("unreadable catalog object {path}: {reason}")]
    CorruptCatalog { path: String, reason: String },
    #[error("parquet error reading {path}: {source}")]
    ParquetRead { path: String, source: parquet::errors::ParquetError },
    #[error("invalid snapshot: {0}")]
    InvalidSnapshot(String),
}

pub type Result<T, E = LakeError> = std::result::Result<T, E>;
