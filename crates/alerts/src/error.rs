#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error(transparent)]
    Lake(#[from] tarn_lake::LakeError),
    #[error(transparent)]
    Query(#[from] tarn_query::QueryError),
    #[error("{0}")]
    Rule(String),
    #[error(transparent)]
    Rules(#[from] crate::rules::RulesError),
    #[error("sink {sink}: {message}")]
    Sink { sink: String, message: String },
}
