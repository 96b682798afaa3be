//! The one error type of Sigstore verification: one variant per failure class.

use chrono::{DateTime, Utc};

/// Why a bundle (or a trusted root, or a key) was rejected.
#[derive(Debug, thiserror::Error)]
pub enum SigstoreError {
    /// The bundle is not valid JSON, misses a required field, or has a field of the wrong shape.
    #[error("malformed bundle: {0}")]
    MalformedBundle(String),
    /// The bundle media type names a version this verifier does not know.
    #[error("unsupported bundle media type {0:?}")]
    UnsupportedMediaType(String),
    #[error("malformed trusted root: {0}")]
    MalformedTrustedRoot(String),
    #[error("malformed public key: {0}")]
    MalformedKey(String),
    /// An algorithm or encoding that is valid but not implemented here.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The bundle's verification material does not fit the policy (a key-signed bundle checked
    /// against an identity, or the other way round).
    #[error("verification material does not fit the policy: {0}")]
    PolicyMismatch(String),
    /// The artifact or DSSE signature does not verify with the signing key.
    #[error("signature does not verify: {0}")]
    BadSignature(String),
    /// The artifact given is not the one the bundle signs.
    #[error("artifact does not match the bundle: {0}")]
    ArtifactMismatch(String),
    #[error("certificate chain: {0}")]
    CertificateChain(String),
    #[error("certificate identity mismatch: expected {expected}, found {found}")]
    IdentityMismatch { expected: String, found: String },
    #[error("signed certificate timestamp: {0}")]
    Sct(String),
    /// The transparency-log entry body does not describe this bundle's signature and artifact.
    #[error("transparency log entry {log_index} does not match the bundle: {reason}")]
    TlogEntryMismatch { log_index: i64, reason: String },
    #[error("inclusion proof of log entry {log_index}: {reason}")]
    InclusionProof { log_index: i64, reason: String },
    #[error("checkpoint of log entry {log_index}: {reason}")]
    Checkpoint { log_index: i64, reason: String },
    #[error("signed entry timestamp of log entry {log_index}: {reason}")]
    SignedEntryTimestamp { log_index: i64, reason: String },
    /// An RFC 3161 timestamp does not verify, or no verified time exists at all.
    #[error("timestamp: {0}")]
    Timestamp(String),
    /// A certificate, key or trust-root entry is not valid at a time the bundle proves.
    #[error("{what} is not valid at {time}")]
    ValidityWindow { what: String, time: DateTime<Utc> },
    /// A log, CT log, CA or TSA the bundle relies on is not in the trusted root.
    #[error("untrusted {kind}: {detail}")]
    UntrustedInstance { kind: &'static str, detail: String },
}

impl SigstoreError {
    pub(crate) fn bundle(msg: impl Into<String>) -> Self {
        Self::MalformedBundle(msg.into())
    }

    /// A short stable name of the failure class (useful in reports and tests).
    pub fn class(&self) -> &'static str {
        match self {
            Self::MalformedBundle(_) => "MalformedBundle",
            Self::UnsupportedMediaType(_) => "UnsupportedMediaType",
            Self::MalformedTrustedRoot(_) => "MalformedTrustedRoot",
            Self::MalformedKey(_) => "MalformedKey",
            Self::Unsupported(_) => "Unsupported",
            Self::PolicyMismatch(_) => "PolicyMismatch",
            Self::BadSignature(_) => "BadSignature",
            Self::ArtifactMismatch(_) => "ArtifactMismatch",
            Self::CertificateChain(_) => "CertificateChain",
            Self::IdentityMismatch { .. } => "IdentityMismatch",
            Self::Sct(_) => "Sct",
            Self::TlogEntryMismatch { .. } => "TlogEntryMismatch",
            Self::InclusionProof { .. } => "InclusionProof",
            Self::Checkpoint { .. } => "Checkpoint",
            Self::SignedEntryTimestamp { .. } => "SignedEntryTimestamp",
            Self::Timestamp(_) => "Timestamp",
            Self::ValidityWindow { .. } => "ValidityWindow",
            Self::UntrustedInstance { .. } => "UntrustedInstance",
        }
    }
}
