//! DSSE envelopes inside Sigstore bundles: the signature over the PAE, and the in-toto
//! statement that binds the artifact.

use super::SigstoreError;
use super::bundle_json::Envelope;
use super::crypto::{HashAlg, VerificationKey};
use crate::statement::{PAYLOAD_TYPE, Statement};

const STATEMENT_TYPES: [&str; 2] = ["https://in-toto.io/Statement/v1", "https://in-toto.io/Statement/v0.1"];

/// Verifies the envelope's (single) signature over `PAE(payloadType, payload)`.
pub(crate) fn verify_envelope(env: &Envelope, key: &VerificationKey) -> Result<(), SigstoreError> {
    let pae = crate::dsse::pae(&env.payload_type, &env.payload);
    let scheme = key.scheme(key.artifact_hash().unwrap_or(HashAlg::Sha256));
    if env.signatures.iter().all(|sig| key.verify(scheme, &pae, sig)) {
        Ok(())
    } else {
        Err(SigstoreError::BadSignature("dsse envelope signature does not verify with the signing key".into()))
    }
}

/// The in-toto statement in the envelope, which must name the artifact as a subject: some
/// subject's `algorithm` digest (`sha256`, `sha512`) equals `artifact_digest`.
pub(crate) fn statement_for(
    env: &Envelope,
    algorithm: &str,
    artifact_digest: &[u8],
) -> Result<Statement, SigstoreError> {
    if env.payload_type != PAYLOAD_TYPE {
        return Err(SigstoreError::ArtifactMismatch(format!(
            "dsse payload type {:?} is not an in-toto statement, so it names no artifact",
            env.payload_type
        )));
    }
    let statement: Statement = serde_json::from_slice(&env.payload)
        .map_err(|e| SigstoreError::ArtifactMismatch(format!("dsse payload is not an in-toto statement: {e}")))?;
    if !STATEMENT_TYPES.contains(&statement.type_.as_str()) {
        return Err(SigstoreError::ArtifactMismatch(format!("unknown statement type {:?}", statement.type_)));
    }
    let hex = hex::encode(artifact_digest);
    let named = statement.subject.iter().any(|s| s.digest.get(algorithm).is_some_and(|d| d.eq_ignore_ascii_case(&hex)));
    if !named {
        return Err(SigstoreError::ArtifactMismatch(format!("no statement subject has {algorithm} {hex}")));
    }
    Ok(statement)
}
