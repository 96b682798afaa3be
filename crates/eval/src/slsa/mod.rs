//! SLSA build track: provenance for the images a cluster runs, verified offline, judged
//! against a policy, and graded by the build level it proves.
//!
//! ```text
//! ProvenanceSource::provenance_for(image digest) ──▶ ProvenanceDocument (bytes, kind)
//!   │  Sigstore bundle ─▶ tarn_trust::sigstore::verify (cert at a logged time, Rekor proofs)
//!   │  DSSE + cert     ─▶ signature + Fulcio chain + SCT   (no log entry: signing time unproven)
//!   │  gcloud JSON     ─▶ Cloud Build KMS keys + text/summary consistency
//!   ▼
//! assess ─▶ Assessment { level, builder, source, subject match, … } ─▶ evaluate_slsa rows
//! ```
//!
//! The same verifiers also answer slsa-verifier's questions exactly ([`verify_artifact`],
//! [`verify_gcb_image`], [`verify_npm_package`], [`verify_github_attestation`], [`verify_vsa`],
//! [`verify_bundle`]), failing with upstream's error names ([`ErrorKind::name`]); the
//! conformance test runs slsa-verifier's own test table against them.
//!
//! ```
//! use tarn_eval::slsa::{BuilderOptions, ProvenanceOptions, verify_gcb_image};
//! let gcloud = include_bytes!(concat!(
//!     env!("CARGO_MANIFEST_DIR"),
//!     "/../../fixtures/slsa-verifier/cli/slsa-verifier/testdata/gcb_container/v0.3/gcloud-container-github.json"
//! ));
//! let opts = ProvenanceOptions {
//!     source: "github.com/laurentsimon/gcb-tests".into(),
//!     digest: "f472ca4b68898c951ac3b476cba919d0d56fca4ced631fabcead51e4b2b690e7".into(),
//!     ..Default::default()
//! };
//! let builder = BuilderOptions { builder_id: Some("https://cloudbuild.googleapis.com/GoogleHostedWorker".into()), testing: false };
//! let verified = verify_gcb_image(gcloud, &opts, &builder).unwrap();
//! assert_eq!(verified.builder_id.to_string(), "https://cloudbuild.googleapis.com/GoogleHostedWorker@v0.3");
//! let other = ProvenanceOptions { source: "github.com/org/gcb-tests".into(), ..opts };
//! assert_eq!(verify_gcb_image(gcloud, &other, &builder).unwrap_err().name(), "ErrorMismatchSource");
//! ```
//!
//! # Build levels
//!
//! Per image, the best level any of its provenance documents proves:
//!
//! - **L0**: no SLSA provenance (v0.1, v0.2 or v1) names the image's digest as a subject.
//! - **L1**: provenance names the image, but its signature is missing, invalid, or cannot be
//!   proven offline (an envelope with a Fulcio certificate but no transparency-log entry:
//!   slsa-verifier looks the entry up in Rekor online), or the signer is not a hosted build
//!   platform (a person's identity, a self-hosted runner, an unknown key).
//! - **L2**: the signature verifies fully (a Sigstore bundle verified against the trusted
//!   root, or a pinned builder key such as Cloud Build's) and the signer is a hosted build
//!   platform: a GitHub Actions workflow on a GitHub-hosted runner, or Cloud Build.
//! - **L3**: L2, and the signing identity itself is a builder known to isolate provenance
//!   generation from the build ([`SlsaPolicy::l3_builders`], default [`builders::L3_BUILDERS`]:
//!   slsa-github-generator's reusable workflows and BYOB delegators, Cloud Build hosted
//!   workers), referenced at a release tag. The identity that signs is what counts, not the
//!   `builder.id` the provenance claims: a workflow signing its own provenance (npm CLI,
//!   `actions/attest-build-provenance` in a plain workflow) stays at L2.
//!
//! # Offline limits
//!
//! Nothing here touches the network. Provenance published only as an envelope without a
//! certificate (slsa-verifier then searches Rekor by artifact digest) cannot be verified and
//! grades L1; envelopes with a certificate are verified but grade L1 because no log entry
//! proves the certificate was valid when it signed.

mod assess;
pub mod builders;
mod bundle;
mod checks;
mod crypto;
mod envelope;
mod error;
mod evaluate;
mod forgeable;
mod gcb;
mod gcb_keys;
mod gha;
mod identity;
mod npm;
mod policy;
mod provenance;
mod refs;
#[cfg(test)]
mod tests;
mod vsa;

use std::collections::BTreeMap;

use tarn_trust::sigstore::TrustedRoot;

pub use assess::{Assessment, Authenticity, assess_document};
pub use bundle::{CertIdentity, Strength, VerifiedEnvelope, is_sigstore_bundle};
pub use checks::{BuilderOptions, ProvenanceOptions};
pub use error::{ErrorKind, VerifyError};
pub use evaluate::{CONTROLS, FRAMEWORK, FRAMEWORK_VERSION, evaluate_slsa};
pub use gcb::{verify_gcb_image, verify_gcb_provenance};
pub use gha::{VerifiedProvenance, verify_artifact, verify_github_attestation};
pub use npm::verify_npm_package;
pub use policy::SlsaPolicy;
pub use provenance::{Layout, Provenance};
pub use refs::{BuilderId, verify_versioned_tag};
pub use vsa::{VerifiedVsa, VsaKey, VsaOptions, verify_vsa};

/// The container formats provenance arrives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProvenanceKind {
    /// Look at the bytes to decide.
    Detect,
    /// A Sigstore bundle (v0.1–v0.3) with a DSSE envelope.
    SigstoreBundle,
    /// A bare DSSE envelope (`.intoto.jsonl`), possibly with an embedded certificate.
    DsseEnvelope,
    /// `gcloud artifacts docker images describe --show-provenance` JSON.
    GcloudProvenance,
    /// The npm registry's `{"attestations": [...]}`.
    NpmAttestations,
}

impl ProvenanceKind {
    /// The format of `bytes`, judged by their top-level JSON keys.
    pub fn detect(bytes: &[u8]) -> Self {
        if bundle::is_sigstore_bundle(bytes) {
            return Self::SigstoreBundle;
        }
        let first = std::str::from_utf8(bytes).ok().and_then(|t| t.lines().find(|l| !l.trim().is_empty()));
        let v: serde_json::Value = serde_json::from_slice(bytes)
            .ok()
            .or_else(|| first.and_then(|l| serde_json::from_str(l).ok()))
            .unwrap_or_default();
        if v.get("provenance_summary").is_some() {
            Self::GcloudProvenance
        } else if v.get("attestations").is_some() {
            Self::NpmAttestations
        } else {
            Self::DsseEnvelope
        }
    }
}

/// One piece of provenance evidence for an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvenanceDocument {
    /// Where it came from (a path, an OCI reference), for messages.
    pub source: String,
    pub bytes: Vec<u8>,
    pub kind: ProvenanceKind,
}

/// Finds provenance for an image digest (`sha256:<hex>`): an evidence directory, an OCI
/// registry's attestations, or memory.
pub trait ProvenanceSource {
    fn provenance_for(&self, image_digest: &str) -> Vec<ProvenanceDocument>;
}

/// Provenance held in memory, by image digest.
#[derive(Debug, Clone, Default)]
pub struct MemoryProvenance {
    docs: BTreeMap<String, Vec<ProvenanceDocument>>,
}

impl MemoryProvenance {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a document for `image_digest` (`sha256:<hex>`).
    pub fn insert(&mut self, image_digest: &str, doc: ProvenanceDocument) -> &mut Self {
        self.docs.entry(image_digest.to_ascii_lowercase()).or_default().push(doc);
        self
    }
}

impl ProvenanceSource for MemoryProvenance {
    fn provenance_for(&self, image_digest: &str) -> Vec<ProvenanceDocument> {
        self.docs.get(&image_digest.to_ascii_lowercase()).cloned().unwrap_or_default()
    }
}

/// slsa-verifier's bundle check (`verifiers/internal/gha/bundle.go`): a Sigstore bundle with a
/// DSSE envelope verifies against `root`, whatever its statement names.
pub fn verify_bundle(bundle: &[u8], root: &TrustedRoot) -> Result<VerifiedEnvelope, VerifyError> {
    bundle::verify_dsse_bundle(bundle, bundle::BundleSubject::Any, None, root)
}
