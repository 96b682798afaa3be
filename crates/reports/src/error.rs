use thiserror::Error;

#[derive(Debug, Error)]
pub enum ReportError {
    #[error("typesetting the PDF failed: {0}")]
    Typeset(String),
    #[error(transparent)]
    Query(#[from] tarn_query::QueryError),
    #[error(transparent)]
    Lake(#[from] tarn_lake::LakeError),
    #[error("{0}")]
    Invalid(String),
}
