//! Exit codes, decided in exactly one place.

use tarn_lake::LakeError;

/// Success.
pub const OK: u8 = 0;
/// The command ran, and what it checked is not OK (verification failed, input skipped).
pub const FAILED: u8 = 1;
/// Invalid input or usage (bad flag value, malformed file, unreadable key).
pub const INVALID: u8 = 2;
/// Storage unavailable or contended.
pub const UNAVAILABLE: u8 = 3;
/// Bug or unexpected state.
pub const INTERNAL: u8 = 70;

/// Marks an error as invalid user input.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InvalidInput(pub String);

pub fn code_for(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if cause.is::<InvalidInput>()
            || cause.is::<tarn_trust::TrustError>()
            || cause.is::<tarn_eval::inventory::InventoryError>()
            || cause.is::<tarn_model::IdError>()
        {
            return INVALID;
        }
        if let Some(a) = cause.downcast_ref::<tarn_agent::AgentError>() {
            return match a {
                tarn_agent::AgentError::KubeList { .. } => UNAVAILABLE,
                _ => INVALID,
            };
        }
        if let Some(q) = cause.downcast_ref::<tarn_query::QueryError>() {
            return match q {
                tarn_query::QueryError::Lake(_) => UNAVAILABLE,
                _ => INVALID,
            };
        }
        if let Some(l) = cause.downcast_ref::<LakeError>() {
            return match l {
                LakeError::InvalidUrl { .. }
                | LakeError::InvalidSnapshot(_)
                | LakeError::Id(_)
                | LakeError::NotALake { .. } => INVALID,
                LakeError::Store(_) | LakeError::Contention { .. } | LakeError::NoConditionalCreate { .. } => {
                    UNAVAILABLE
                }
                LakeError::UnsupportedFormat { .. } => INVALID,
                _ => INTERNAL,
            };
        }
    }
    INTERNAL
}
