//! npm packages: the registry's attestation bundle holds SLSA provenance (signed by the
//! publishing workflow's Fulcio certificate) and a publish attestation (signed by the npm
//! registry's key). Subjects are named `pkg:npm/<name>@<version>` with SHA-512 digests.

use serde_json::Value;
use tarn_trust::sigstore::{TrustedRoot, VerificationKey};

use super::builders::{
    BYOB_DELEGATORS, LOW_PERMS_DELEGATOR, NPM_RUNNER_HOSTED, NPM_RUNNER_LEGACY, NPM_RUNNER_SELF_HOSTED,
};
use super::bundle::{self, BundleSubject, VerifiedEnvelope};
use super::checks::{BuilderOptions, ProvenanceOptions, verify_builder_loose, verify_common};
use super::envelope::INTOTO_PAYLOAD_TYPE;
use super::error::{ErrorKind, VerifyError, err};
use super::forgeable::verify_matches_certificate;
use super::gha::VerifiedProvenance;
use super::identity::{Hosted, WorkflowIdentity, verify_builder_identity, verify_cert_source};
use super::provenance::{PROVENANCE_V1, PROVENANCE_V02, Provenance, STATEMENT_TYPES, subjects_of};
use super::refs::BuilderId;

/// The npm registry's attestation signing key (`keyid` `SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA`),
/// as published at `https://registry.npmjs.org/-/npm/v1/keys` and in Sigstore's TUF
/// repository (`registry.npmjs.org/keys.json`). It signed publish attestations until
/// 2025-01-29; slsa-verifier fetches it from TUF, Tarn pins it.
pub const NPM_REGISTRY_KEY_2023: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE1Olb3zMAFFxXKHiIkQO5cJ3Yhl5i6UPp+IhuteBJbuHcA5UogKo0EWtlWwW6KSaKoTNEYL7JlCQiVnkhBktUgg==
-----END PUBLIC KEY-----
";

const PUBLISH_PREDICATE_PREFIX: &str = "https://github.com/npm/attestation/tree/main/specs/publish/";

/// The two attestations of an npm package.
fn split_attestations(json: &[u8]) -> Result<(Vec<u8>, Vec<u8>), VerifyError> {
    let v: Value = serde_json::from_slice(json)
        .map_err(|e| VerifyError::new(ErrorKind::InvalidFormat, format!("invalid npm attestations: {e}")))?;
    let list = v.get("attestations").and_then(Value::as_array).cloned().unwrap_or_default();
    if list.len() < 2 {
        return err(ErrorKind::InvalidFormat, format!("invalid npm attestations: {} attestations", list.len()));
    }
    let (mut prov, mut publish) = (None, None);
    for a in &list {
        let t = a.get("predicateType").and_then(Value::as_str).unwrap_or("");
        let bundle = a.get("bundle").map(|b| serde_json::to_vec(b).unwrap_or_default());
        if t == PROVENANCE_V02 || t == PROVENANCE_V1 {
            prov = bundle;
        } else if t.starts_with(PUBLISH_PREDICATE_PREFIX) {
            publish = bundle;
        }
    }
    match (prov, publish) {
        (Some(p), Some(q)) => Ok((p, q)),
        _ => err(ErrorKind::InvalidFormat, "invalid npm attestations: invalid attestation types"),
    }
}

/// slsa-verifier `verify-npm-package`: `opts.digest` is the tarball's SHA-512.
pub fn verify_npm_package(
    attestations: &[u8],
    opts: &ProvenanceOptions,
    builder: &BuilderOptions,
    root: &TrustedRoot,
) -> Result<VerifiedProvenance, VerifyError> {
    let (prov_bundle, publish_bundle) = split_attestations(attestations)?;
    let prov_env = bundle::verify_dsse_bundle(&prov_bundle, BundleSubject::Any, None, root)?;
    let (builder_id, prov) = verify_builder(&prov_env, opts, builder)?;

    let key = VerificationKey::from_pem(NPM_REGISTRY_KEY_2023).map_err(VerifyError::from)?;
    let publish = bundle::verify_dsse_bundle(&publish_bundle, BundleSubject::Any, Some(&key), root)?;
    let publish_statement: Value = serde_json::from_slice(&publish.payload)
        .map_err(|e| VerifyError::new(ErrorKind::InvalidDssePayload, e.to_string()))?;
    verify_publish_digest(&publish_statement, &opts.digest)?;
    verify_headers(&prov_env, &prov.statement, false)?;
    verify_headers(&publish, &publish_statement, true)?;
    if let Some(name) = &opts.package_name {
        let (n, _) = provenance_package(&prov)?;
        check_name(&n, name)?;
        let (pn, _) = publish_predicate(&publish_statement);
        check_name(&package_name_and_version(&pn)?.0, name)?;
        check_name(&pn, name)?;
    }
    if let Some(version) = &opts.package_version {
        let (_, v) = provenance_package(&prov)?;
        check_version(&v, version)?;
        let (_, pv) = publish_predicate(&publish_statement);
        check_version(&pv, version)?;
    }
    Ok(VerifiedProvenance {
        builder_id,
        provenance: prov,
        signer: prov_env.signer,
        strength: prov_env.strength,
        signed_at: prov_env.signed_at,
    })
}

/// The provenance's builder: a trusted BYOB builder behind the low-permission delegator, or
/// the npm CLI on a GitHub runner whose provenance must agree with the certificate.
fn verify_builder(
    env: &VerifiedEnvelope,
    opts: &ProvenanceOptions,
    builder: &BuilderOptions,
) -> Result<(BuilderId, Provenance), VerifyError> {
    let Some(signer) = &env.signer else {
        return err(ErrorKind::InvalidCertificate, "provenance is not signed by a certificate");
    };
    let id = WorkflowIdentity::from_cert(signer)?;
    let cert = match verify_builder_identity(&id, Some(LOW_PERMS_DELEGATOR), &BYOB_DELEGATORS, builder.testing) {
        Ok(c) => Some(c),
        Err(e) if e.kind == ErrorKind::UntrustedReusableWorkflow => None,
        Err(e) => return Err(e),
    };
    verify_cert_source(&id, &opts.source)?;
    let Some(expected) = builder.builder_id.as_deref() else {
        return err(ErrorKind::InvalidBuilderId, "no expected builder ID");
    };
    let (name, trusted) = match &cert {
        Some(c) => {
            if !c.byob {
                return err(ErrorKind::Internal, "byob is false");
            }
            if id.hosted.is_some_and(|h| h != Hosted::GitHub) {
                return err(ErrorKind::MismatchBuilderId, "self hosted re-usable workflow");
            }
            (c.id.name.clone(), true)
        }
        None => {
            let Some(hosted) = id.hosted else { return err(ErrorKind::NotSupported, "hosted status unknown") };
            match expected {
                NPM_RUNNER_LEGACY | NPM_RUNNER_HOSTED if hosted != Hosted::GitHub => {
                    return err(ErrorKind::MismatchBuilderId, "re-usable workflow is self-hosted");
                }
                NPM_RUNNER_SELF_HOSTED if hosted != Hosted::SelfHosted => {
                    return err(ErrorKind::MismatchBuilderId, "re-usable workflow is GitHub-hosted");
                }
                NPM_RUNNER_LEGACY | NPM_RUNNER_HOSTED | NPM_RUNNER_SELF_HOSTED => {}
                other => {
                    return err(
                        ErrorKind::NotSupported,
                        format!("builder {other}: expected one of {NPM_RUNNER_SELF_HOSTED}, {NPM_RUNNER_HOSTED}"),
                    );
                }
            }
            (BuilderId::parse(expected, false)?.name, false)
        }
    };
    let prov = Provenance::for_builder(&name, &env.payload)?;
    // Older provenance names the runner without its hosting; the two spellings are one builder.
    let suffix = "/github-hosted";
    if let Err(e) = verify_builder_loose(&prov, expected) {
        let other = match expected.strip_suffix(suffix) {
            Some(short) => short.to_string(),
            None => format!("{expected}{suffix}"),
        };
        verify_builder_loose(&prov, &other).map_err(|_| e)?;
    }
    verify_common(&prov, opts)?;
    if !trusted {
        verify_matches_certificate(&prov, &id)?;
    }
    // Report the delegated builder for BYOB, the runner the user named for the npm CLI.
    let reported =
        if trusted { BuilderId::parse(prov.builder_id(), false)? } else { BuilderId::parse(expected, false)? };
    Ok((reported, prov))
}

fn verify_headers(env: &VerifiedEnvelope, statement: &Value, publish: bool) -> Result<(), VerifyError> {
    if env.payload_type != INTOTO_PAYLOAD_TYPE {
        return err(
            ErrorKind::InvalidDssePayload,
            format!("expected payload type {INTOTO_PAYLOAD_TYPE:?}, got {:?}", env.payload_type),
        );
    }
    let t = statement.get("_type").and_then(Value::as_str).unwrap_or("");
    if !STATEMENT_TYPES.contains(&t) {
        return err(ErrorKind::InvalidDssePayload, format!("unexpected statement type {t:?}"));
    }
    let p = statement.get("predicateType").and_then(Value::as_str).unwrap_or("");
    let ok = if publish { p.starts_with(PUBLISH_PREDICATE_PREFIX) } else { p == PROVENANCE_V02 || p == PROVENANCE_V1 };
    if !ok {
        return err(ErrorKind::InvalidDssePayload, format!("unexpected predicate type {p:?}"));
    }
    Ok(())
}

fn verify_publish_digest(statement: &Value, digest: &str) -> Result<(), VerifyError> {
    let subjects = subjects_of(statement);
    if subjects.is_empty() {
        return err(ErrorKind::InvalidDssePayload, "no subjects");
    }
    let bits = digest.len() * 4;
    if bits < 256 {
        return err(ErrorKind::InvalidHash, format!("expected minimum sha256, got sha{bits}"));
    }
    let alg = format!("sha{bits}");
    if subjects.iter().any(|(_, d)| d.get(&alg).is_some_and(|h| h == digest)) {
        return Ok(());
    }
    err(ErrorKind::MismatchHash, format!("expected hash {digest:?} not found"))
}

/// `(name, version)` from the provenance's single `pkg:npm/<name>@<version>` subject.
fn provenance_package(prov: &Provenance) -> Result<(String, String), VerifyError> {
    let subjects = prov.subjects()?;
    if subjects.len() != 1 {
        return err(ErrorKind::InvalidSubject, format!("subject length: {}", subjects.len()));
    }
    let Some(encoded) = subjects[0].0.strip_prefix("pkg:npm/") else {
        return err(ErrorKind::InvalidPackageName, subjects[0].0.clone());
    };
    package_name_and_version(&percent_decode(encoded)?)
}

/// `@scope/name@1.2.3` → (`@scope/name`, `1.2.3`).
fn package_name_and_version(s: &str) -> Result<(String, String), VerifyError> {
    let (scope, rest) = match s.strip_prefix('@') {
        Some(r) => ("@", r),
        None => ("", s),
    };
    let parts: Vec<&str> = rest.split('@').collect();
    if parts.len() > 2 {
        return err(ErrorKind::InvalidPackageName, s.to_string());
    }
    Ok((format!("{scope}{}", parts[0]), parts.get(1).unwrap_or(&"").to_string()))
}

fn publish_predicate(statement: &Value) -> (String, String) {
    let f = |k: &str| statement.pointer(&format!("/predicate/{k}")).and_then(Value::as_str).unwrap_or("").to_string();
    (f("name"), f("version"))
}

fn check_name(got: &str, want: &str) -> Result<(), VerifyError> {
    if got != want {
        return err(ErrorKind::MismatchPackageName, format!("got {got:?}, expected {want:?}"));
    }
    Ok(())
}

fn check_version(got: &str, want: &str) -> Result<(), VerifyError> {
    if got != want {
        return err(ErrorKind::MismatchPackageVersion, format!("got {got:?}, expected {want:?}"));
    }
    Ok(())
}

/// `url.QueryUnescape`: `%XX` escapes and `+` as space.
fn percent_decode(s: &str) -> Result<String, VerifyError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok());
                let Some(b) = hex else { return err(ErrorKind::InvalidEncoding, format!("invalid escape in {s:?}")) };
                out.push(b);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|e| VerifyError::new(ErrorKind::InvalidEncoding, e.to_string()))
}
