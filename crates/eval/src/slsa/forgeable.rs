//! Provenance written by an untrusted builder (the npm CLI inside the user's own workflow) is
//! only as good as what the Fulcio certificate confirms: every claim must be one the
//! certificate also makes, or be absent.

use serde_json::Value;

use super::builders::GITHUB;
use super::error::{ErrorKind, VerifyError, err};
use super::identity::WorkflowIdentity;
use super::provenance::{Provenance, get_str};

const SUPPORTED: [&str; 10] = [
    "GITHUB_EVENT_NAME",
    "GITHUB_REF",
    "GITHUB_REPOSITORY",
    "GITHUB_REPOSITORY_ID",
    "GITHUB_REPOSITORY_OWNER_ID",
    "GITHUB_RUN_ATTEMPT",
    "GITHUB_RUN_ID",
    "GITHUB_SHA",
    "GITHUB_WORKFLOW_REF",
    "GITHUB_WORKFLOW_SHA",
];

fn equal(cert: Option<&str>, claim: &str, name: &str) -> Result<(), VerifyError> {
    match cert {
        None => err(ErrorKind::MismatchCertificate, format!("empty certificate value to verify {name:?}")),
        Some(c) if c != claim => err(ErrorKind::MismatchCertificate, format!("{name}: {claim:?} != {c:?}")),
        Some(_) => Ok(()),
    }
}

fn not_claimed(prov: &Provenance, pointer: &str, what: &str) -> Result<(), VerifyError> {
    match prov.statement.pointer(pointer) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Object(m)) if m.is_empty() => Ok(()),
        Some(v) => err(ErrorKind::NonVerifiableClaim, format!("{what}: {v}")),
    }
}

/// `(run id, attempt)` from the certificate's `<id>/attempts/<n>`.
fn run_ids(id: &WorkflowIdentity) -> Result<Option<(String, String)>, VerifyError> {
    let Some(run) = &id.run_id else { return Ok(None) };
    match run.split('/').collect::<Vec<_>>().as_slice() {
        [run_id, _, attempt] => Ok(Some((run_id.to_string(), attempt.to_string()))),
        _ => err(ErrorKind::InvalidFormat, run.clone()),
    }
}

/// slsa-verifier's `verifyProvenanceMatchesCertificate`. Upstream checks v1 provenance only
/// for its subject and dependencies (its v1 field checks are a TODO); so does Tarn.
pub fn verify_matches_certificate(prov: &Provenance, id: &WorkflowIdentity) -> Result<(), VerifyError> {
    let subjects = prov.subjects()?;
    if prov.is_v1() {
        if subjects.len() != 1 || !subjects[0].1.contains_key("sha512") {
            return err(ErrorKind::NonVerifiableClaim, "expected one sha512 subject");
        }
        let deps = prov.statement.pointer("/predicate/buildDefinition/resolvedDependencies").and_then(Value::as_array);
        if deps.map_or(0, Vec::len) != 1 {
            return err(ErrorKind::NonVerifiableClaim, "unexpected number of resolved dependencies");
        }
        return Ok(());
    }

    let env = prov.env()?;
    if let Some(k) = env.keys().find(|k| !SUPPORTED.contains(&k.as_str())) {
        return err(ErrorKind::MismatchCertificate, format!("unknown {k:?} parameter"));
    }
    let workflow_ref = id.subject_workflow.strip_prefix(GITHUB).unwrap_or(&id.subject_workflow);
    let checks: [(&str, Option<&str>); 8] = [
        ("GITHUB_EVENT_NAME", Some(&id.build_trigger)),
        ("GITHUB_REPOSITORY", Some(&id.source_repository)),
        ("GITHUB_REF", id.source_ref.as_deref()),
        ("GITHUB_REPOSITORY_ID", id.source_id.as_deref()),
        ("GITHUB_REPOSITORY_OWNER_ID", id.source_owner_id.as_deref()),
        ("GITHUB_SHA", Some(&id.source_sha1)),
        ("GITHUB_WORKFLOW_REF", Some(workflow_ref)),
        ("GITHUB_WORKFLOW_SHA", id.subject_sha1.as_deref()),
    ];
    for (name, cert) in checks {
        if env.contains_key(name) {
            equal(cert, &get_str(&env, name)?, name)?;
        }
    }
    if env.contains_key("GITHUB_RUN_ID") || env.contains_key("GITHUB_RUN_ATTEMPT") {
        let Some((run, attempt)) = run_ids(id)? else {
            return err(ErrorKind::MismatchCertificate, "empty certificate value to verify 'GITHUB_RUN_*'");
        };
        for (name, cert) in [("GITHUB_RUN_ID", run.as_str()), ("GITHUB_RUN_ATTEMPT", attempt.as_str())] {
            if env.contains_key(name) {
                equal(Some(cert), &get_str(&env, name)?, name)?;
            }
        }
    }

    not_claimed(prov, "/predicate/invocation/parameters", "parameters")?;
    let invocation =
        prov.statement.pointer("/predicate/metadata/buildInvocationId").and_then(Value::as_str).unwrap_or("");
    if !invocation.is_empty() {
        let (run, attempt) = run_ids(id)?.unwrap_or_default();
        let expected = format!("{run}-{attempt}");
        if invocation != expected {
            return err(ErrorKind::MismatchCertificate, format!("invocation ID: {invocation:?} != {expected:?}"));
        }
    }
    for t in ["buildStartedOn", "buildFinishedOn"] {
        not_claimed(prov, &format!("/predicate/metadata/{t}"), t)?;
    }
    let flag = |p: &str| prov.statement.pointer(p).and_then(Value::as_bool).unwrap_or(false);
    if flag("/predicate/metadata/reproducible") {
        return err(ErrorKind::NonVerifiableClaim, "reproducible: true");
    }
    if ["parameters", "environment", "materials"].iter().any(|c| flag(&format!("/predicate/metadata/completeness/{c}")))
    {
        return err(ErrorKind::NonVerifiableClaim, "completeness claims");
    }
    if subjects.len() != 1 || !subjects[0].1.contains_key("sha512") {
        return err(ErrorKind::NonVerifiableClaim, "expected one sha512 subject");
    }
    let entry =
        prov.statement.pointer("/predicate/invocation/configSource/entryPoint").and_then(Value::as_str).unwrap_or("");
    equal(id.build_config_path.as_deref(), entry, "trigger workflow")?;
    let materials = prov.statement.pointer("/predicate/materials").and_then(Value::as_array);
    if materials.map_or(0, Vec::len) != 1 {
        return err(ErrorKind::NonVerifiableClaim, "unexpected number of resolved dependencies");
    }
    not_claimed(prov, "/predicate/buildConfig", "buildConfig")
}
