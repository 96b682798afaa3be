/// Errors from querying.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("query rejected: {0} (the query engine is read-only)")]
    ReadOnly(String),
    #[error("query failed: {0}")]
    DataFusion(#[from] datafusion::error::DataFusionError),
    #[error("query exceeded its time limit of {0:?} (raise --timeout-secs)")]
    Timeout(std::time::Duration),
    #[error("query exceeded its memory limit of {limit_mb} MiB (raise --memory-mb): {detail}")]
    Memory { limit_mb: usize, detail: String },
    #[error(transparent)]
    Lake(#[from] tarn_lake::LakeError),
    #[error("ballista: {0}")]
    Ballista(String),
    #[error("cannot format results: {0}")]
    Format(#[from] arrow::error::ArrowError),
}

/// A lake error inside DataFusion (table scans, table functions).
pub(crate) fn lake_err(e: tarn_lake::LakeError) -> datafusion::error::DataFusionError {
    datafusion::error::DataFusionError::External(Box::new(e))
}
