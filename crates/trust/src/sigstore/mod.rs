//! Offline Sigstore bundle verification.
//!
//! [`verify`] checks a bundle (media types v0.1, v0.2, v0.3) against an artifact, a
//! [`VerificationPolicy`] (a public key, or a Fulcio certificate identity and OIDC issuer) and
//! a [`TrustedRoot`], without any network access. Every check is performed, none is optional:
//!
//! ```text
//! bundle JSON ──parse──▶ material (key | certificate) + content (message signature | DSSE)
//!   1. signature over the artifact (digest) or the DSSE PAE; in-toto subject = artifact
//!   2. each tlog entry: trusted log ─ body records this signature/artifact/signer
//!        ─ SET over canonical JSON (vouches for the integrated time)
//!        ─ RFC 6962 inclusion proof ─ signed checkpoint (signed note, key hint, origin)
//!   3. each RFC 3161 timestamp: imprint = H(signature), CMS signature, TSA chain to the root
//!   4. verified times = SET integrated times ∪ TSA times (at least one)
//!   5. certificate: path to a trusted Fulcio CA valid at every verified time, ≥ 1 SCT from
//!      a trusted CT log, SAN identity and OIDC issuer match the policy
//! ```
//!
//! Validity is judged at the times the bundle proves, never at "now": certificates expire
//! ten minutes after issue.
//!
//! ```no_run
//! use tarn_trust::sigstore::{Artifact, TrustedRoot, VerificationPolicy, verify};
//! let bundle = std::fs::read("artifact.sigstore.json").unwrap();
//! let artifact = std::fs::read("artifact").unwrap();
//! let policy = VerificationPolicy::Identity {
//!     identity: "https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main".into(),
//!     issuer: "https://token.actions.githubusercontent.com".into(),
//! };
//! let verified = verify(&bundle, Artifact::Bytes(&artifact), &policy, &TrustedRoot::production()).unwrap();
//! println!("signed at {}", verified.signed_at);
//! ```

mod asn1;
mod bundle_json;
pub mod canonical_json;
pub mod checkpoint;
mod crypto;
mod dsse;
mod error;
mod fulcio;
mod inspect;
pub mod merkle;
mod oids;
mod rekor;
mod sct;
#[cfg(test)]
mod tests;
mod time;
mod trusted_root;
mod tsa;
mod verify;
mod x509;

use chrono::{DateTime, Utc};

pub use bundle_json::BundleVersion;
pub use crypto::{HashAlg, VerificationKey};
pub use error::SigstoreError;
pub use fulcio::FulcioExtensions;
pub use time::TimeRange;
pub use trusted_root::{CertificateAuthority, TransparencyLog, TrustedRoot};
pub use verify::verify;
pub use x509::Cert;

use crate::statement::Statement;

/// The artifact a bundle should sign: its bytes, or only its SHA-256 (or, for DSSE, SHA-512)
/// digest.
#[derive(Debug, Clone, Copy)]
pub enum Artifact<'a> {
    Bytes(&'a [u8]),
    Sha256([u8; 32]),
    /// Only the SHA-512 digest (npm names packages by it): DSSE bundles only, whose in-toto
    /// statement must have a subject with this `sha512` digest.
    Sha512([u8; 64]),
}

impl Artifact<'_> {
    /// Parses `sha256:<64 hex digits>`, the digest form of the conformance CLI protocol.
    pub fn parse_digest(s: &str) -> Option<[u8; 32]> {
        let hex = s.strip_prefix("sha256:")?;
        hex::decode(hex).ok()?.try_into().ok()
    }
}

/// Who must have signed.
#[derive(Debug, Clone)]
pub enum VerificationPolicy {
    /// A bundle whose material is a public key (a "managed key"), signed by this key.
    Key(VerificationKey),
    /// A Fulcio certificate with exactly this SAN identity and OIDC issuer.
    Identity { identity: String, issuer: String },
    /// A Fulcio certificate whose SAN identity and OIDC issuer match these expressions. Like
    /// cosign's `--certificate-identity-regexp`, a match anywhere counts: anchor with `^…$`.
    IdentityRegex { identity: regex::Regex, issuer: regex::Regex },
}

impl VerificationPolicy {
    pub fn identity_regex(identity: &str, issuer: &str) -> Result<Self, SigstoreError> {
        let re = |s: &str| {
            regex::Regex::new(s)
                .map_err(|e| SigstoreError::PolicyMismatch(format!("bad regular expression {s:?}: {e}")))
        };
        Ok(Self::IdentityRegex { identity: re(identity)?, issuer: re(issuer)? })
    }
}

/// What was signed.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// A signature over the artifact itself.
    MessageSignature { digest: [u8; 32] },
    /// A DSSE envelope; `statement` is its in-toto statement, whose subject matched the artifact.
    Dsse { payload_type: String, payload: Vec<u8>, statement: Option<Statement> },
}

/// Who signed.
#[derive(Debug, Clone, PartialEq)]
pub enum Signer {
    /// A public key given by the policy; `key_id` is the hex SHA-256 of its DER encoding.
    Key { key_id: String },
    /// A Fulcio certificate.
    Certificate {
        /// The SAN entry that satisfied the policy.
        identity: String,
        /// The OIDC issuer (extension 1.3.6.1.4.1.57264.1.8, else .1).
        issuer: String,
        subject_alternative_names: Vec<String>,
        extensions: FulcioExtensions,
        not_before: DateTime<Utc>,
        not_after: DateTime<Utc>,
        certificate_der: Vec<u8>,
    },
}

/// A transparency-log entry that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub log_url: String,
    pub log_index: i64,
    /// Only when a verified signed entry timestamp vouches for it (Rekor v1).
    pub integrated_time: Option<DateTime<Utc>>,
}

/// The outcome of a successful [`verify`].
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedBundle {
    pub version: BundleVersion,
    pub payload: Payload,
    pub signer: Signer,
    /// The earliest verified time (SET integrated time or RFC 3161 time).
    pub signed_at: DateTime<Utc>,
    pub log_entries: Vec<LogEntry>,
    /// Times attested by verified RFC 3161 timestamps.
    pub timestamps: Vec<DateTime<Utc>>,
}
