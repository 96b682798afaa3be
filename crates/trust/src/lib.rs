//! Tarn's trust layer: keys, in-toto statements, DSSE signatures and Sigstore bundles.
//!
//! Every snapshot Tarn writes is attested by an [in-toto Statement](statement::Statement) whose
//! subject is the Parquet object's SHA-256. The statement is signed as a DSSE envelope with an
//! ECDSA P-256 key and shipped as a [Sigstore bundle](bundle::Bundle) (media type v0.3), which
//! independent verifiers (sigstore-js, OpenSSL over the DSSE PAE) accept with the public key.
//!
//! ```text
//! SigningKeyPair ──sign──▶ DSSE envelope(Statement{subject: sha256(object), predicate})
//!                                   │
//!                                   ▼
//!                            Bundle v0.3 (publicKey hint, tlogEntries: [])
//!                                   │ verify(PublicKey)
//!                                   ▼
//!                            Statement (checked subject digest)
//! ```
//!
//! Keys use cosign's PEM formats: `ENCRYPTED SIGSTORE PRIVATE KEY` (scrypt + NaCl secretbox
//! over PKCS#8) and `PUBLIC KEY` (SPKI), so `cosign` keys work with Tarn and vice versa.
//!
//! Bundles signed elsewhere (cosign, GitHub attestations, any Sigstore client) are checked by
//! [`sigstore::verify`]: offline, against a [`sigstore::TrustedRoot`], with key or keyless
//! (Fulcio certificate identity) policies, DSSE or message signatures, Rekor v1 and v2 entries
//! (SET, inclusion proof, signed checkpoint) and RFC 3161 timestamps. It agrees with all 70
//! cases of the sigstore-conformance corpus (`fixtures/sigstore-conformance`).
//!
//! ```
//! use tarn_trust::{keys::{KdfParams, SigningKeyPair}, statement::{Statement, Subject}, bundle};
//! let key = SigningKeyPair::generate();
//! let st = Statement::new(vec![Subject::sha256("obj.parquet", &"ab".repeat(32))], "https://example.com/p", serde_json::json!({}));
//! let b = bundle::sign_statement(&key, &st).unwrap();
//! let verified = bundle::verify_bundle(&b, &[key.public()]).unwrap();
//! assert_eq!(verified.statement, st);
//! ```

pub mod bundle;
pub mod dsse;
mod error;
pub mod keys;
pub mod sigstore;
pub mod statement;

pub use error::TrustError;

/// Lowercase hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// Incremental SHA-256, for hashing objects as they stream.
#[derive(Debug, Clone, Default)]
pub struct StreamingSha256(sha2::Sha256);

impl StreamingSha256 {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn update(&mut self, data: &[u8]) {
        use sha2::Digest;
        self.0.update(data);
    }

    /// Lowercase hex digest.
    pub fn finish_hex(self) -> String {
        use sha2::Digest;
        hex::encode(self.0.finalize())
    }
}
