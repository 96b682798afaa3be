//! The GitHub Actions workflow identity in a Fulcio certificate, and slsa-verifier's rules for
//! trusting it as a builder: the reusable workflow must be a trusted builder (or a BYOB
//! delegator), referenced at a release tag, from the expected source repository.

use super::builders::{BYOB_DELEGATORS, E2E_REPOSITORY, GENERATOR_REPOSITORY, GITHUB, GITHUB_ACTIONS_ISSUER};
use super::bundle::CertIdentity;
use super::error::{ErrorKind, VerifyError, err};
use super::refs::{BuilderId, is_valid_builder_tag};

/// Where the workflow ran (Fulcio extension .11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hosted {
    GitHub,
    SelfHosted,
}

/// What a Fulcio certificate says about the GitHub workflow that signed
/// (<https://github.com/sigstore/fulcio/blob/main/docs/oid-info.md>).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowIdentity {
    /// `owner/repo` the build ran for.
    pub source_repository: String,
    pub source_sha1: String,
    pub source_ref: Option<String>,
    pub source_id: Option<String>,
    pub source_owner_id: Option<String>,
    /// The signing workflow: `https://github.com/owner/repo/path@ref` (a reusable workflow for
    /// trusted builders).
    pub subject_workflow: String,
    pub subject_sha1: Option<String>,
    pub hosted: Option<Hosted>,
    pub build_trigger: String,
    /// The triggering workflow's path in the source repository.
    pub build_config_path: Option<String>,
    /// `<run id>/attempts/<attempt>`.
    pub run_id: Option<String>,
    pub issuer: String,
}

fn some(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("")
}

/// A claim present both as a deprecated raw extension and its successor must agree.
fn equal_claims(deprecated: &str, current: &str) -> Result<String, VerifyError> {
    if !deprecated.is_empty() && !current.is_empty() && deprecated != current {
        return err(ErrorKind::InvalidFormat, format!("{deprecated:?} != {current:?}"));
    }
    if deprecated.is_empty() && current.is_empty() {
        return err(ErrorKind::InvalidFormat, "claims are empty");
    }
    Ok(if current.is_empty() { deprecated } else { current }.to_string())
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

impl WorkflowIdentity {
    pub fn from_cert(c: &CertIdentity) -> Result<Self, VerifyError> {
        let x = &c.extensions;
        let Some(subject_workflow) = c.sans.iter().find(|s| s.contains("://")).cloned() else {
            return err(ErrorKind::InvalidFormat, "missing URI information from certificate");
        };
        let build_trigger = equal_claims(some(&x.github_workflow_trigger), some(&x.build_trigger))?;
        let source_sha1 = equal_claims(some(&x.github_workflow_sha), some(&x.source_repository_digest))?;
        equal_claims(&source_sha1, some(&x.build_config_digest))?;
        if c.issuer.is_empty() {
            return err(ErrorKind::InvalidFormat, "certificate has no OIDC issuer");
        }
        let deprecated_repo = some(&x.github_workflow_repository);
        let repo_uri = some(&x.source_repository_uri);
        if !deprecated_repo.is_empty() && !repo_uri.is_empty() && format!("{GITHUB}{deprecated_repo}") != repo_uri {
            return err(ErrorKind::InvalidFormat, format!("{deprecated_repo:?} != {repo_uri:?}"));
        }
        let mut source_repository = repo_uri.strip_prefix(GITHUB).unwrap_or(repo_uri).to_string();
        if source_repository.is_empty() {
            source_repository = deprecated_repo.to_string();
        }
        let build_config_path = match some(&x.build_config_uri) {
            "" => None,
            uri => {
                let parts: Vec<&str> = uri.split('@').collect();
                if parts.len() != 2 {
                    return err(ErrorKind::InvalidFormat, uri.to_string());
                }
                let prefix = format!("{GITHUB}{source_repository}/");
                let Some(path) = parts[0].strip_prefix(&prefix) else {
                    return err(ErrorKind::InvalidFormat, format!("prefix: {}", parts[0]));
                };
                non_empty(path)
            }
        };
        let run_prefix = format!("{GITHUB}{source_repository}/actions/runs/");
        let run_uri = some(&x.run_invocation_uri);
        let hosted = match some(&x.runner_environment) {
            "github-hosted" => Some(Hosted::GitHub),
            "self-hosted" => Some(Hosted::SelfHosted),
            _ => None,
        };
        let after_host = subject_workflow.split_once("://").map(|(_, r)| r).unwrap_or("");
        if !after_host.contains('/') {
            return err(ErrorKind::InvalidFormat, subject_workflow);
        }
        Ok(Self {
            source_repository,
            source_sha1,
            source_ref: x.source_repository_ref.clone().filter(|s| !s.is_empty()),
            source_id: x.source_repository_identifier.clone().filter(|s| !s.is_empty()),
            source_owner_id: x.source_repository_owner_identifier.clone().filter(|s| !s.is_empty()),
            subject_workflow,
            subject_sha1: x.build_signer_digest.clone().filter(|s| !s.is_empty()),
            hosted,
            build_trigger,
            build_config_path,
            run_id: non_empty(run_uri.strip_prefix(&run_prefix).unwrap_or(run_uri)),
            issuer: c.issuer.clone(),
        })
    }

    /// The signing workflow without its ref.
    pub fn workflow_name(&self) -> &str {
        self.subject_workflow.split_once('@').map_or(self.subject_workflow.as_str(), |(n, _)| n)
    }

    /// The signing workflow's ref (`refs/tags/v1.2.3`).
    pub fn workflow_ref(&self) -> &str {
        self.subject_workflow.split_once('@').map_or("", |(_, r)| r)
    }
}

/// The signing workflow as a builder, and whether it is a trusted BYOB delegator (whose
/// provenance names the delegated builder instead).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertBuilder {
    pub id: BuilderId,
    pub byob: bool,
}

fn is_trusted_delegator(cert: &BuilderId, trusted: &[&str]) -> bool {
    BYOB_DELEGATORS.iter().any(|d| cert.matches_loose(d, true).is_ok() && trusted.contains(d))
}

/// slsa-verifier's `VerifyBuilderIdentity`: the issuer is GitHub Actions; the signing
/// workflow is `expected` (or, without one, in `trusted`), or a trusted delegator; and it is
/// referenced at a `vX.Y.Z` release tag (`testing` also allows `refs/heads/main` and
/// prereleases for slsa-github-generator's own end-to-end repositories).
pub fn verify_builder_identity(
    id: &WorkflowIdentity,
    expected: Option<&str>,
    trusted: &[&str],
    testing: bool,
) -> Result<CertBuilder, VerifyError> {
    if id.issuer != GITHUB_ACTIONS_ISSUER {
        return err(ErrorKind::InvalidOidcIssuer, format!("{:?}", id.issuer));
    }
    let (name, tag) = (id.workflow_name(), id.workflow_ref());
    if name.is_empty() || tag.is_empty() {
        return err(ErrorKind::MalformedUri, format!("workflow uri: {:?}", id.subject_workflow));
    }
    let cert = BuilderId::parse(&format!("{name}@{tag}"), true)?;
    let byob = is_trusted_delegator(&cert, trusted);
    match expected.filter(|e| !e.is_empty()) {
        None if !trusted.contains(&name) => {
            return err(ErrorKind::UntrustedReusableWorkflow, format!("{name} with no builderID provided"));
        }
        None => {}
        Some(_) if byob => {}
        Some(e) => cert
            .matches_loose(e, true)
            .map_err(|m| VerifyError::new(ErrorKind::UntrustedReusableWorkflow, m.to_string()))?,
    }
    let e2e = id.source_repository == GENERATOR_REPOSITORY || id.source_repository == E2E_REPOSITORY;
    if testing && e2e {
        if tag != "refs/heads/main" {
            is_valid_builder_tag(tag, true)?;
        }
    } else {
        is_valid_builder_tag(tag, false)?;
    }
    Ok(CertBuilder { id: cert, byob })
}

/// The certificate's source repository is `expected` (`github.com/owner/repo`, with or
/// without `git+https://`).
pub fn verify_cert_source(id: &WorkflowIdentity, expected: &str) -> Result<(), VerifyError> {
    let e = expected.strip_prefix("git+https://").unwrap_or(expected);
    let e = e.strip_prefix("github.com/").unwrap_or(e);
    if id.source_repository != e {
        return err(ErrorKind::MismatchSource, format!("expected source {e:?}, got {:?}", id.source_repository));
    }
    Ok(())
}
