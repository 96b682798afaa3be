//! Judging one provenance document for one image: is it SLSA provenance for this image, who
//! signed it and how well that is proven, and which build level it reaches (rule in the
//! module docs of [`super`]).

use serde_json::Value;
use tarn_trust::sigstore::TrustedRoot;

use super::builders::{BYOB_DELEGATORS, GCB_HOSTED_WORKER, GITHUB, GITHUB_ACTIONS_ISSUER};
use super::bundle::{self, BundleSubject, CertIdentity, Strength};
use super::crypto::{EcKey, decode_b64};
use super::envelope::Envelope;
use super::gcb::signed_statement;
use super::gcb_keys::{GcbKey, key_for};
use super::identity::{Hosted, WorkflowIdentity};
use super::policy::{SlsaPolicy, builder_listed};
use super::provenance::{Layout, Provenance};
use super::refs::{BuilderId, is_valid_builder_tag, parse_git_uri_and_ref};
use super::{ProvenanceDocument, ProvenanceKind};

/// How well a document's signature is proven.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authenticity {
    /// Fully verified, signed by `signer`.
    Verified { signer: String },
    /// The signature and the signing certificate check out, but nothing proves when it signed.
    CertificateOnly { signer: String },
    /// No signature Tarn can check offline.
    Unverifiable(String),
    /// A signature that does not verify, or evidence that is malformed.
    Invalid(String),
}

impl Authenticity {
    pub fn is_verified(&self) -> bool {
        matches!(self, Self::Verified { .. })
    }
}

/// What one document proves about one image.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    pub source: String,
    /// The SLSA provenance statement, if the document holds one (verified or not).
    pub provenance: Option<Provenance>,
    /// Why the document is not usable provenance, when it is not.
    pub problem: Option<String>,
    pub authenticity: Authenticity,
    /// Some subject's `sha256` is the image digest.
    pub subject_matches: bool,
    /// The builder the provenance names.
    pub builder_id: Option<String>,
    /// `github.com/owner/repo`, from the certificate when there is one.
    pub repository: Option<String>,
    /// `refs/heads/…` or `refs/tags/…`.
    pub git_ref: Option<String>,
    pub level: u8,
    pub level_reason: String,
}

/// The signer as far as levels care.
struct Signer {
    name: String,
    /// The workflow's ref, when the signer is a workflow.
    git_ref: Option<String>,
    hosted: bool,
}

fn unverified_payload(bytes: &[u8], kind: ProvenanceKind) -> Option<Vec<u8>> {
    let pointer = match kind {
        ProvenanceKind::SigstoreBundle => "/dsseEnvelope/payload",
        ProvenanceKind::GcloudProvenance => "/provenance_summary/provenance/0/envelope/payload",
        _ => return Envelope::parse(bytes).ok()?.payload_bytes().ok(),
    };
    let v: Value = serde_json::from_slice(bytes).ok()?;
    decode_b64(v.pointer(pointer)?.as_str()?)
}

fn cert_signer(c: &CertIdentity, policy: &SlsaPolicy) -> (Signer, Option<String>, Option<String>) {
    match WorkflowIdentity::from_cert(c) {
        Ok(id) if id.issuer == GITHUB_ACTIONS_ISSUER => {
            let name = id.workflow_name().to_string();
            let hosted = match id.hosted {
                Some(h) => h == Hosted::GitHub,
                // Certificates before Fulcio's runner extension: trusted builders run hosted.
                None => builder_listed(&policy.l3_builders, &name),
            };
            let git_ref = id.source_ref.clone().or(c.extensions.github_workflow_ref.clone());
            let signer = Signer { name, git_ref: Some(id.workflow_ref().to_string()), hosted };
            (signer, Some(format!("github.com/{}", id.source_repository)), git_ref)
        }
        _ => {
            let name = c.sans.first().cloned().unwrap_or_default();
            let hosted = c
                .extensions
                .runner_environment
                .as_deref()
                .is_some_and(|r| r.ends_with("-hosted") && r != "self-hosted");
            (Signer { name: format!("{name} ({})", c.issuer), git_ref: None, hosted }, None, None)
        }
    }
}

/// A bare envelope signed by a Cloud Build key.
fn gcb_envelope(env: &Envelope) -> Option<Result<(), String>> {
    let payload = env.payload_bytes().ok()?;
    let mut result = None;
    for s in &env.signatures {
        let (pem, pae) = match key_for(&s.keyid) {
            GcbKey::GlobalPae { pem, .. } => (pem, true),
            GcbKey::Regional(Some(pem)) => (pem, false),
            _ => continue,
        };
        let key = EcKey::from_pem(pem).ok()?;
        let msg = if pae { env.pae().ok()? } else { payload.clone() };
        if decode_b64(&s.sig).is_some_and(|sig| key.verify(&msg, &sig)) {
            return Some(Ok(()));
        }
        result = Some(Err(format!("signature by {} does not verify", s.keyid)));
    }
    result
}

/// Verifies and grades one document for the image `image_digest` (`sha256:<hex>`).
pub fn assess_document(
    doc: &ProvenanceDocument,
    image_digest: &str,
    policy: &SlsaPolicy,
    root: &TrustedRoot,
) -> Assessment {
    let hex = image_digest.strip_prefix("sha256:").unwrap_or(image_digest).to_ascii_lowercase();
    let kind = if doc.kind == ProvenanceKind::Detect { ProvenanceKind::detect(&doc.bytes) } else { doc.kind };
    let mut bytes = doc.bytes.clone();
    let mut kind = kind;
    if kind == ProvenanceKind::NpmAttestations {
        // The provenance half; the publish attestation says nothing about builds.
        let v: Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let prov = v.get("attestations").and_then(Value::as_array).and_then(|a| {
            a.iter().find(|x| {
                x.get("predicateType")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.starts_with("https://slsa.dev/provenance/"))
            })
        });
        bytes =
            prov.and_then(|p| p.get("bundle")).map(|b| serde_json::to_vec(b).unwrap_or_default()).unwrap_or_default();
        kind = ProvenanceKind::SigstoreBundle;
    }

    let mut signer = None;
    let (mut repository, mut git_ref) = (None, None);
    let (authenticity, payload) = match kind {
        ProvenanceKind::SigstoreBundle => match bundle::verify_dsse_bundle(&bytes, BundleSubject::Any, None, root) {
            Ok(env) => {
                let c = env.signer.as_ref().map(|c| cert_signer(c, policy));
                let name = c.as_ref().map(|(s, _, _)| s.name.clone()).unwrap_or_else(|| "a key".into());
                if let Some((s, r, g)) = c {
                    (signer, repository, git_ref) = (Some(s), r, g);
                }
                (Authenticity::Verified { signer: name }, Some(env.payload))
            }
            Err(e) => (Authenticity::Invalid(e.to_string()), unverified_payload(&bytes, kind)),
        },
        ProvenanceKind::GcloudProvenance => match signed_statement(&bytes) {
            Ok(p) => {
                signer = Some(Signer { name: GCB_HOSTED_WORKER.into(), git_ref: None, hosted: true });
                let payload = serde_json::to_vec(&p.statement).ok();
                (Authenticity::Verified { signer: "Cloud Build".into() }, payload)
            }
            Err(e) => (Authenticity::Invalid(e.to_string()), unverified_payload(&bytes, kind)),
        },
        _ => match Envelope::parse(&bytes) {
            Err(e) => (Authenticity::Invalid(e.to_string()), None),
            Ok(env) if env.signatures.iter().any(|s| !s.cert.is_empty()) => {
                match bundle::verify_envelope_with_cert(&env, root) {
                    Ok(v) => {
                        let c = v.signer.as_ref().map(|c| cert_signer(c, policy));
                        let name = c.as_ref().map(|(s, _, _)| s.name.clone()).unwrap_or_default();
                        if let Some((s, r, g)) = c {
                            (signer, repository, git_ref) = (Some(s), r, g);
                        }
                        debug_assert_eq!(v.strength, Strength::CertificateOnly);
                        (Authenticity::CertificateOnly { signer: name }, Some(v.payload))
                    }
                    Err(e) => (Authenticity::Invalid(e.to_string()), env.payload_bytes().ok()),
                }
            }
            Ok(env) => match gcb_envelope(&env) {
                Some(Ok(())) => {
                    signer = Some(Signer { name: GCB_HOSTED_WORKER.into(), git_ref: None, hosted: true });
                    (Authenticity::Verified { signer: "Cloud Build".into() }, env.payload_bytes().ok())
                }
                Some(Err(e)) => (Authenticity::Invalid(e), env.payload_bytes().ok()),
                None => (
                    Authenticity::Unverifiable(
                        "no certificate or known key signs it; slsa-verifier would search Rekor online".into(),
                    ),
                    env.payload_bytes().ok(),
                ),
            },
        },
    };

    let provenance = payload.as_deref().map(Provenance::parse);
    let (provenance, problem) = match provenance {
        Some(Ok(p)) => (Some(p), None),
        Some(Err(e)) => (None, Some(format!("not SLSA provenance: {}", e.detail))),
        None => (None, Some("no readable in-toto statement".to_string())),
    };
    let subject_matches = provenance.as_ref().is_some_and(|p| {
        p.subjects()
            .unwrap_or_default()
            .iter()
            .any(|(_, d)| d.get("sha256").is_some_and(|h| h.eq_ignore_ascii_case(&hex)))
    });
    let builder_id = provenance.as_ref().map(|p| p.builder_id().to_string()).filter(|b| !b.is_empty());
    if let Some(p) = &provenance {
        repository = repository.or_else(|| claimed_repository(p));
        git_ref = git_ref.or_else(|| claimed_ref(p));
    }
    let (level, level_reason) = grade(provenance.as_ref(), subject_matches, &authenticity, signer.as_ref(), policy);
    Assessment {
        source: doc.source.clone(),
        provenance,
        problem,
        authenticity,
        subject_matches,
        builder_id,
        repository,
        git_ref,
        level,
        level_reason,
    }
}

fn claimed_repository(p: &Provenance) -> Option<String> {
    let uri = p.source_uri().ok()?;
    let uri = uri.strip_prefix("git+").unwrap_or(&uri);
    let uri = uri.split('@').next().unwrap_or(uri).split('#').next().unwrap_or(uri);
    Some(uri.strip_prefix("https://").unwrap_or(uri).trim_end_matches(".git").to_string())
}

fn claimed_ref(p: &Provenance) -> Option<String> {
    if p.layout == Layout::V01Gcb {
        return p.tag().ok().filter(|t| !t.is_empty());
    }
    let src = p.source_uri().ok()?;
    let (_, r) = parse_git_uri_and_ref(&src).ok()?;
    (!r.is_empty()).then(|| r.to_string())
}

fn grade(
    prov: Option<&Provenance>,
    subject_matches: bool,
    auth: &Authenticity,
    signer: Option<&Signer>,
    policy: &SlsaPolicy,
) -> (u8, String) {
    let Some(prov) = prov else { return (0, "no SLSA provenance".into()) };
    if !subject_matches {
        return (0, "the provenance does not name this image's digest".into());
    }
    let signer = match (auth, signer) {
        (Authenticity::Verified { .. }, Some(s)) => s,
        (Authenticity::Verified { signer }, None) => return (1, format!("signed by {signer}, not a build platform")),
        (Authenticity::CertificateOnly { signer }, _) => {
            return (
                1,
                format!(
                    "signed by {signer}, but no transparency-log entry proves the certificate was valid when it signed \
                     (slsa-verifier looks it up in Rekor online)"
                ),
            );
        }
        (Authenticity::Unverifiable(why), _) => {
            return (1, format!("unverified provenance: {why}"));
        }
        // A signature that fails is worse than none: the document may be forged.
        (Authenticity::Invalid(why), _) => {
            return (0, format!("provenance signature is invalid ({why}); the document may be forged"));
        }
    };
    if !signer.hosted {
        return (1, format!("signed by {}, which is not a hosted build platform", signer.name));
    }
    let with_ref = match &signer.git_ref {
        Some(r) => format!("{}@{r}", signer.name),
        None => signer.name.clone(),
    };
    if !builder_listed(&policy.l3_builders, &with_ref) {
        return (2, format!("signed by hosted builder {with_ref}"));
    }
    if let Some(r) = &signer.git_ref
        && is_valid_builder_tag(r, false).is_err()
    {
        return (2, format!("signed by {with_ref}, a builder at {r} rather than a release tag"));
    }
    // A builder that is not a delegator writes its own builder ID into what it signs.
    let is_delegator = BYOB_DELEGATORS.contains(&signer.name.as_str());
    let claimed = BuilderId::parse(prov.builder_id(), false).map(|b| b.name).unwrap_or_default();
    if !is_delegator && signer.name.starts_with(GITHUB) && claimed != signer.name {
        return (2, format!("signed by {with_ref} but the provenance names builder {claimed:?}"));
    }
    if signer.name == GCB_HOSTED_WORKER && !claimed.starts_with(GCB_HOSTED_WORKER) {
        return (2, format!("signed by Cloud Build but the provenance names builder {claimed:?}"));
    }
    (3, format!("signed by {with_ref}, a builder that isolates provenance generation"))
}
