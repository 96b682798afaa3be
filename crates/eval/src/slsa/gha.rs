//! GitHub Actions provenance: slsa-github-generator artifacts (generators, Go builder, BYOB
//! delegators, container-based builder) and GitHub artifact attestations.

use tarn_trust::sigstore::TrustedRoot;

use super::builders::{BYOB_DELEGATORS, DEFAULT_ARTIFACT_BUILDERS, GCB_HOSTED_WORKER, GITHUB};
use super::bundle::{self, BundleSubject, CertIdentity, Strength, VerifiedEnvelope};
use super::checks::{BuilderOptions, ProvenanceOptions, verify_builder_loose, verify_common, verify_provenance};
use super::envelope::Envelope;
use super::error::{ErrorKind, VerifyError, err};
use super::identity::{WorkflowIdentity, verify_builder_identity, verify_cert_source};
use super::provenance::{Layout, Provenance};
use super::refs::BuilderId;

/// Provenance that verified, with what it proves.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedProvenance {
    /// The builder ID to report (the delegated builder for BYOB).
    pub builder_id: BuilderId,
    pub provenance: Provenance,
    /// The Fulcio identity that signed; `None` for key signatures.
    pub signer: Option<CertIdentity>,
    pub strength: Strength,
    pub signed_at: Option<String>,
}

/// Which verifier handles `builder_id` (slsa-verifier's `IsAuthoritativeFor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifierKind {
    GitHubActions,
    CloudBuild,
}

pub fn verifier_for(builder_id: Option<&str>) -> Result<VerifierKind, VerifyError> {
    let Some(id) = builder_id else { return Ok(VerifierKind::GitHubActions) };
    let name = BuilderId::parse(id, false)?.name;
    if name.starts_with(GITHUB) {
        Ok(VerifierKind::GitHubActions)
    } else if name == GCB_HOSTED_WORKER {
        Ok(VerifierKind::CloudBuild)
    } else {
        err(ErrorKind::VerifierNotSupported, format!("no verifier for builder {id:?}"))
    }
}

/// Verifies the signature of GitHub provenance: a Sigstore bundle, or a DSSE envelope that
/// embeds its certificate (whose log entry cannot be looked up offline).
pub fn verify_signature(provenance: &[u8], root: &TrustedRoot) -> Result<VerifiedEnvelope, VerifyError> {
    if bundle::is_sigstore_bundle(provenance) {
        bundle::verify_dsse_bundle(provenance, BundleSubject::Any, None, root)
    } else {
        bundle::verify_envelope_with_cert(&Envelope::parse(provenance)?, root)
    }
}

/// slsa-verifier `verify-artifact` for GitHub builders: `opts.digest` is the artifact's
/// SHA-256.
pub fn verify_artifact(
    provenance: &[u8],
    opts: &ProvenanceOptions,
    builder: &BuilderOptions,
    root: &TrustedRoot,
) -> Result<VerifiedProvenance, VerifyError> {
    if verifier_for(builder.builder_id.as_deref())? != VerifierKind::GitHubActions {
        return err(ErrorKind::NotSupported, "Cloud Build provenance is verified with verify_gcb_image");
    }
    let env = verify_signature(provenance, root)?;
    let trusted: Vec<&str> = DEFAULT_ARTIFACT_BUILDERS.iter().chain(&BYOB_DELEGATORS).copied().collect();
    verify_env_and_cert(env, opts, builder, &trusted)
}

/// Judges a verified envelope: the signing workflow, the source, then the provenance.
pub fn verify_env_and_cert(
    env: VerifiedEnvelope,
    opts: &ProvenanceOptions,
    builder: &BuilderOptions,
    trusted: &[&str],
) -> Result<VerifiedProvenance, VerifyError> {
    let Some(signer) = env.signer.clone() else {
        return err(ErrorKind::InvalidCertificate, "GitHub provenance must be signed by a Fulcio certificate");
    };
    let id = WorkflowIdentity::from_cert(&signer)?;
    let expected = builder.builder_id.as_deref().filter(|e| !e.is_empty());
    let cert = verify_builder_identity(&id, expected, trusted, builder.testing)?;
    verify_cert_source(&id, &opts.source)?;
    let prov = Provenance::for_builder(&cert.id.name, &env.payload)?;
    let builder_id = verify_provenance(&prov, opts, &cert.id, cert.byob, expected)?;
    Ok(VerifiedProvenance {
        builder_id,
        provenance: prov,
        signer: Some(signer),
        strength: env.strength,
        signed_at: env.signed_at,
    })
}

/// slsa-verifier `verify-github-attestation`: provenance from `actions/attest-build-provenance`
/// in a Sigstore bundle. The signing workflow must be the expected builder; there is no
/// default trusted set.
pub fn verify_github_attestation(
    bundle_json: &[u8],
    opts: &ProvenanceOptions,
    builder: &BuilderOptions,
    root: &TrustedRoot,
) -> Result<VerifiedProvenance, VerifyError> {
    let env = bundle::verify_dsse_bundle(bundle_json, BundleSubject::Any, None, root)?;
    let Some(signer) = env.signer.clone() else {
        return err(ErrorKind::InvalidCertificate, "attestation must be signed by a Fulcio certificate");
    };
    let id = WorkflowIdentity::from_cert(&signer)?;
    let Some(expected) = builder.builder_id.as_deref().filter(|e| !e.is_empty()) else {
        return err(ErrorKind::UntrustedReusableWorkflow, format!("{} with no builderID provided", id.workflow_name()));
    };
    verify_builder_identity(&id, Some(expected), &[], builder.testing)?;
    verify_cert_source(&id, &opts.source)?;
    let prov = Provenance::parse(&env.payload)?;
    if prov.layout != Layout::V1Workflow {
        return err(
            ErrorKind::InvalidBuildType,
            format!("{:?} is not a GitHub workflow build type", prov.build_type()),
        );
    }
    verify_builder_loose(&prov, expected)?;
    verify_common(&prov, opts)?;
    Ok(VerifiedProvenance {
        builder_id: BuilderId::parse(prov.builder_id(), false)?,
        provenance: prov,
        signer: Some(signer),
        strength: env.strength,
        signed_at: env.signed_at,
    })
}
