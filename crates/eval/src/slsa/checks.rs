//! Provenance content checks shared by the GitHub verifiers, in slsa-verifier's order: builder
//! ID, source, subject digest, branch, tag, versioned tag, workflow inputs.

use std::collections::BTreeMap;

use super::builders::{BYOB_BUILDER_PREFIX, JRELEASER_REPOSITORY, bt};
use super::error::{ErrorKind, VerifyError, err};
use super::provenance::{Provenance, get_str};
use super::refs::{
    BuilderId, branch_from_ref, is_valid_builder_tag, normalize_git_uri, parse_git_uri_and_ref, tag_from_ref,
    verify_versioned_tag,
};

/// What the caller expects of the provenance (slsa-verifier's `ProvenanceOpts`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProvenanceOptions {
    /// The source repository: `github.com/owner/repo` (or a `gs://` URI for Cloud Build).
    pub source: String,
    /// Hex digest of the artifact: SHA-256, or SHA-512 for npm tarballs.
    pub digest: String,
    pub branch: Option<String>,
    pub tag: Option<String>,
    /// A semver prefix the tag must satisfy (`v1`, `v1.2`, `v1.2.3`).
    pub versioned_tag: Option<String>,
    pub workflow_inputs: BTreeMap<String, String>,
    pub package_name: Option<String>,
    pub package_version: Option<String>,
}

/// Who the caller expects built it (slsa-verifier's `BuilderOpts`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuilderOptions {
    /// `name`, `name@vX.Y.Z` or `name@refs/tags/vX.Y.Z`; `None` accepts the default trusted
    /// builders.
    pub builder_id: Option<String>,
    /// slsa-verifier's `SLSA_VERIFIER_TESTING`: slsa-github-generator's own end-to-end
    /// repositories may use builders at `refs/heads/main`. Off in production.
    pub testing: bool,
}

fn provenance_builder(prov: &Provenance) -> Result<BuilderId, VerifyError> {
    BuilderId::parse(prov.builder_id(), false)
}

/// The provenance's builder ID is `expected` (name, and version if it has one).
pub fn verify_builder_loose(prov: &Provenance, expected: &str) -> Result<(), VerifyError> {
    provenance_builder(prov)?.matches_loose(expected, true)
}

/// A BYOB provenance names its delegated builder at a release tag.
fn valid_delegated_builder(prov: &Provenance) -> Result<(), VerifyError> {
    let id = prov.builder_id();
    let Some((name, r)) = id.split_once('@').filter(|(_, r)| !r.contains('@')) else {
        return err(ErrorKind::InvalidBuilderId, id.to_string());
    };
    if name.starts_with(JRELEASER_REPOSITORY) {
        let pin = tag_from_ref(r)?;
        let ok = pin
            .strip_suffix("-java")
            .is_some_and(|v| v.split('.').count() == 3 && super::refs::GoSemver::parse(v).is_some());
        return if ok {
            Ok(())
        } else {
            err(ErrorKind::InvalidRef, format!("{pin}: not of the form vX.Y.Z-<language>"))
        };
    }
    is_valid_builder_tag(r, false)
}

/// slsa-verifier's `VerifyProvenance`: the builder ID (the delegated builder for BYOB, else
/// exactly the certificate's workflow), then the common options. Returns the builder ID to
/// report.
pub fn verify_provenance(
    prov: &Provenance,
    opts: &ProvenanceOptions,
    cert_builder: &BuilderId,
    byob: bool,
    expected: Option<&str>,
) -> Result<BuilderId, VerifyError> {
    if byob {
        valid_delegated_builder(prov)?;
        let expected = match expected {
            Some(e) => e.to_string(),
            None => {
                let name = provenance_builder(prov)?.name;
                if !name.starts_with(BYOB_BUILDER_PREFIX) {
                    return err(
                        ErrorKind::InvalidBuilderId,
                        format!("builderID path mismatch: got {name:?}, expected prefix {BYOB_BUILDER_PREFIX:?}"),
                    );
                }
                name
            }
        };
        verify_builder_loose(prov, &expected)?;
    } else {
        provenance_builder(prov)?.matches_full(&cert_builder.to_string(), true)?;
    }
    verify_common(prov, opts)?;
    if byob { BuilderId::parse(prov.builder_id(), true) } else { Ok(cert_builder.clone()) }
}

/// Source, digest, branch, tag, versioned tag and workflow inputs.
pub fn verify_common(prov: &Provenance, opts: &ProvenanceOptions) -> Result<(), VerifyError> {
    verify_source(prov, &opts.source)?;
    verify_digest(prov, &opts.digest)?;
    if let Some(b) = &opts.branch {
        let r = prov.branch()?;
        let got = branch_from_ref(&r)?;
        if got != b {
            return err(ErrorKind::MismatchBranch, format!("expected branch {b:?}, got {got:?}"));
        }
    }
    if let Some(t) = &opts.tag {
        let r = prov.tag()?;
        let got = tag_from_ref(&r)?;
        if got != t {
            return err(ErrorKind::MismatchTag, format!("expected tag {t:?}, got {got:?}"));
        }
    }
    if let Some(t) = &opts.versioned_tag {
        let r = prov.tag()?;
        verify_versioned_tag(tag_from_ref(&r)?, t)?;
    }
    if !opts.workflow_inputs.is_empty() {
        let inputs = prov.workflow_inputs()?;
        for (k, want) in &opts.workflow_inputs {
            let got = get_str(&inputs, k).map_err(|_| {
                VerifyError::new(ErrorKind::MismatchWorkflowInputs, format!("cannot retrieve value of {k:?}"))
            })?;
            if &got != want {
                return err(ErrorKind::MismatchWorkflowInputs, format!("expected {k}={want:?}, got {k}={got:?}"));
            }
        }
    }
    Ok(())
}

/// The triggering repository and the source material are both `expected`, at the same ref.
pub fn verify_source(prov: &Provenance, expected: &str) -> Result<(), VerifyError> {
    let source = normalize_git_uri(expected);
    if !source.starts_with("git+https://github.com/") {
        return err(ErrorKind::MalformedUri, format!("expected source github.com repository {source:?}"));
    }
    let full_trigger = prov.trigger_uri()?;
    let (trigger, trigger_ref) = parse_git_uri_and_ref(&full_trigger)?;
    if trigger != source {
        return err(ErrorKind::MismatchSource, format!("expected trigger {source:?} to match {full_trigger:?}"));
    }
    if trigger_ref.is_empty() {
        return err(ErrorKind::MalformedUri, format!("missing ref: {full_trigger:?}"));
    }
    let full_source = prov.source_uri()?;
    let (src, src_ref) = parse_git_uri_and_ref(&full_source)?;
    if src != source {
        return err(ErrorKind::MismatchSource, format!("expected source {full_source:?} to match {source:?}"));
    }
    if src_ref.is_empty() {
        // npm packages built before GA, and BYOB builds from another commit, name no ref.
        let build_type = prov.build_type();
        if bt::NPM_CLI.contains(&build_type) || build_type == bt::BYOB_V0 {
            return Ok(());
        }
        return err(ErrorKind::MalformedUri, format!("missing ref: {full_source:?}"));
    }
    if full_trigger != full_source {
        return err(
            ErrorKind::InvalidDssePayload,
            format!("source and trigger URIs do not match: {full_trigger:?} != {full_source:?}"),
        );
    }
    Ok(())
}

/// Some subject has `digest` under the algorithm its length implies (`sha256`, `sha512`).
pub fn verify_digest(prov: &Provenance, digest: &str) -> Result<(), VerifyError> {
    let bits = digest.len() * 4;
    if bits < 256 {
        return err(ErrorKind::InvalidHash, format!("expected minimum 256-bit, got {bits}"));
    }
    let alg = format!("sha{bits}");
    if prov.subjects()?.iter().any(|(_, d)| d.get(&alg).is_some_and(|h| h == digest)) {
        return Ok(());
    }
    err(ErrorKind::MismatchHash, format!("expected hash {digest:?} not found"))
}
