/// Errors from key handling, signing and verification.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("malformed key: {0}")]
    MalformedKey(String),
    #[error("wrong password for encrypted private key, or the key file is corrupt")]
    Decrypt,
    #[error("unsupported key format: {0}")]
    Unsupported(String),
    #[error("malformed bundle: {0}")]
    MalformedBundle(String),
    #[error("signature does not verify with any trusted key (key hint {hint:?})")]
    BadSignature { hint: String },
    #[error("statement subject mismatch: {0}")]
    SubjectMismatch(String),
    #[error("random number generator failed: {0}")]
    Rng(String),
}
