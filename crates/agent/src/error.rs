/// Errors from the agent's sources and spool.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("kubernetes configuration: {0}")]
    KubeConfig(String),
    #[error("kubernetes API: listing {resource} failed: {source}")]
    KubeList { resource: String, source: kube::Error },
    #[error("inventory: {0}")]
    Inventory(#[from] tarn_eval::inventory::InventoryError),
    #[error("spool {path}: {source}")]
    Spool { path: String, source: std::io::Error },
    #[error("spool entry {path} is unreadable: {reason}")]
    SpoolEntry { path: String, reason: String },
}
