//! Judging one image of one resource against one policy.
//!
//! Within a policy any authority suffices (OR); the caller ANDs the policies that match.
//! A `static` authority passes or fails outright. A key or keyless authority without
//! `attestations` needs a verified signature (keyless: from an expected identity); one with
//! `attestations` needs, for every listed attestation, a verified attestation of that predicate
//! type that satisfies its policy. If an authority passes and the policy has `spec.policy`,
//! that is evaluated over all passing authorities. `mode: warn` turns a failure into `warn`.
//!
//! Messages follow upstream's (`signature keyless validation failed for authority …`,
//! `disallowed by static policy`, `no matching attestations …`).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use tarn_model::Status;

use super::compile::{CompiledAuthority, CompiledPolicy, PolicyCheck};
use super::verifier::{ImageUnderTest, SignatureVerifier, VerifiedSignature, VerifyError};

/// The resource a container belongs to, as far as policies look at it.
#[derive(Debug, Clone, Copy)]
pub struct Resource<'a> {
    pub kind: &'a str,
    pub api_version: &'a str,
    pub namespace: &'a str,
    pub name: &'a str,
    /// The resource's own labels (`metadata.labels`), which `match[].selector` tests.
    pub labels: &'a BTreeMap<String, String>,
    /// The whole object, for `includeSpec`/`includeObjectMeta`/`includeTypeMeta`.
    pub object: Option<&'a Value>,
}

/// `(group, version, resource)` of a workload kind. DaemonSets and ReplicaSets are in
/// `apps`; upstream's table puts DaemonSets in the core group and misspells ReplicaSet, so
/// for DaemonSets a `match` with group `""` is accepted too.
pub fn group_version_resource(kind: &str) -> Option<(&'static str, &'static str, &'static str)> {
    Some(match kind {
        "Pod" => ("", "v1", "pods"),
        "Deployment" => ("apps", "v1", "deployments"),
        "ReplicaSet" => ("apps", "v1", "replicasets"),
        "StatefulSet" => ("apps", "v1", "statefulsets"),
        "DaemonSet" => ("apps", "v1", "daemonsets"),
        "Job" => ("batch", "v1", "jobs"),
        "CronJob" => ("batch", "v1", "cronjobs"),
        _ => return None,
    })
}

/// How one authority fared.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Pass,
    Fail(String),
    /// Could not be judged (no digest, no evidence source, unsupported policy language).
    Error(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuthorityResult {
    pub name: String,
    pub outcome: Outcome,
}

/// The verdict of one policy for one image.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyVerdict {
    pub policy: String,
    /// `pass`, `fail`, `warn` (a failure under `mode: warn`, or a policy warning) or `error`.
    pub status: Status,
    /// Why, naming the failing authorities; empty for a plain pass.
    pub message: String,
    pub authorities: Vec<AuthorityResult>,
}

impl CompiledPolicy {
    /// Whether `spec.match` selects the resource (no `match` selects everything).
    pub fn selects(&self, r: &Resource<'_>) -> bool {
        let m = &self.policy.spec.match_resources;
        if m.is_empty() {
            return true;
        }
        let Some((group, version, resource)) = group_version_resource(r.kind) else { return false };
        m.iter().any(|m| {
            m.resource == resource
                && (m.version == version || m.version == "*")
                && (m.group == group || (r.kind == "DaemonSet" && m.group.is_empty()))
                && m.selector.as_ref().is_none_or(|s| s.matches(r.labels))
        })
    }

    /// Whether any image glob matches the reference.
    pub fn matches_image(&self, image: &str) -> bool {
        self.globs.iter().any(|g| g.matches(image))
    }

    /// Judges `image` (running `digest`, when known) of `resource`.
    pub fn evaluate(
        &self,
        image: &str,
        digest: Option<&str>,
        resource: &Resource<'_>,
        verifier: &dyn SignatureVerifier,
    ) -> PolicyVerdict {
        let warn_mode = self.policy.spec.is_warn();
        let verdict = |status: Status, message: String, authorities| PolicyVerdict {
            policy: self.name().to_string(),
            status: if status == Status::Fail && warn_mode { Status::Warn } else { status },
            message,
            authorities,
        };
        if self.authorities.is_empty() {
            let msg = format!("failed to process policy: {} (it has no authorities)", self.name());
            return verdict(Status::Fail, msg, Vec::new());
        }
        let mut results = Vec::new();
        let mut matches = Map::new();
        for a in &self.authorities {
            let (outcome, matched) = evaluate_authority(a, image, digest, verifier);
            if let Some(m) = matched {
                matches.insert(a.name.clone(), m);
            }
            results.push(AuthorityResult { name: a.name.clone(), outcome });
        }
        if matches.is_empty() {
            let reasons: Vec<&str> = results
                .iter()
                .filter_map(|r| match &r.outcome {
                    Outcome::Fail(m) | Outcome::Error(m) => Some(m.as_str()),
                    Outcome::Pass => None,
                })
                .collect();
            // An authority that could not be judged might have passed.
            let status = if results.iter().any(|r| matches!(r.outcome, Outcome::Error(_))) {
                Status::Error
            } else {
                Status::Fail
            };
            return verdict(status, reasons.join("; "), results);
        }
        match &self.check {
            None => verdict(Status::Pass, String::new(), results),
            Some(PolicyCheck::Unsupported(why)) => verdict(Status::Error, why.clone(), results),
            Some(PolicyCheck::Rego(rego)) => {
                let input = self.policy_result(matches, resource);
                match rego.evaluate(&input) {
                    Ok(None) => verdict(Status::Pass, String::new(), results),
                    // As upstream: a compliant-with-warning result still fails the policy
                    // (under `mode: warn` it becomes a warning).
                    Ok(Some(w)) => verdict(Status::Fail, w, results),
                    Err(e) => {
                        let msg = format!("failed evaluating rego policy for type ClusterImagePolicy: {e}");
                        verdict(Status::Fail, msg, results)
                    }
                }
            }
        }
    }

    /// The document `spec.policy` sees: the passing authorities' matches plus what the
    /// policy asks to include of the resource.
    fn policy_result(&self, matches: Map<String, Value>, r: &Resource<'_>) -> Value {
        let mut out = Map::new();
        out.insert("authorityMatches".into(), Value::Object(matches));
        let p = self.policy.spec.policy.as_ref();
        let wants = |f: fn(&super::types::PolicySource) -> Option<bool>| p.and_then(f).unwrap_or(false);
        if let Some(obj) = r.object {
            if wants(|p| p.include_spec)
                && let Some(s) = obj.get("spec")
            {
                out.insert("spec".into(), s.clone());
            }
            if wants(|p| p.include_object_meta)
                && let Some(m) = obj.get("metadata")
            {
                out.insert("metadata".into(), m.clone());
            }
        }
        if wants(|p| p.include_type_meta) {
            out.insert("typemeta".into(), json!({"apiVersion": r.api_version, "kind": r.kind}));
        }
        Value::Object(out)
    }
}

/// An authority's outcome and, when it passed, its entry in `authorityMatches`.
fn evaluate_authority(
    a: &CompiledAuthority,
    image: &str,
    digest: Option<&str>,
    verifier: &dyn SignatureVerifier,
) -> (Outcome, Option<Value>) {
    let auth = &a.authority;
    if let Some(s) = &auth.static_ {
        if s.action == "fail" {
            let msg = if s.message.is_empty() {
                "disallowed by static policy".to_string()
            } else {
                format!("disallowed by static policy: {}", s.message)
            };
            return (Outcome::Fail(msg), None);
        }
        return (Outcome::Pass, Some(json!({"static": true})));
    }
    let kind = if auth.keyless.is_some() { "keyless" } else { "key" };
    let Some(digest) = digest else {
        let msg = format!(
            "authority {}: {image} is not pinned by digest and no running digest is recorded; signatures are verified against a digest",
            a.name
        );
        return (Outcome::Error(msg), None);
    };
    let target = ImageUnderTest { reference: image, digest };
    let failed = |what: &str, e: &VerifyError| {
        let msg = format!("{what} {kind} validation failed for authority {} for {image}: {e}", a.name);
        match e {
            VerifyError::Failed(_) => Outcome::Fail(msg),
            VerifyError::Unavailable(_) => Outcome::Error(msg),
        }
    };
    if a.attestations.is_empty() {
        let sigs = match verifier.verify_signatures(&target, auth) {
            Ok(s) => s,
            Err(e) => return (failed("signature", &e), None),
        };
        let sigs = match &a.identities {
            Some(ids) => match ids.filter(sigs, |s| s) {
                Ok(s) => s,
                Err(why) => {
                    return (failed("signature", &VerifyError::Failed(format!("no matching signatures: {why}"))), None);
                }
            },
            None => sigs,
        };
        if sigs.is_empty() {
            return (failed("signature", &VerifyError::Failed("no matching signatures".into())), None);
        }
        return (Outcome::Pass, Some(json!({"signatures": sigs})));
    }
    let atts = match verifier.verify_attestations(&target, auth) {
        Ok(v) => v,
        Err(e) => return (failed("attestation", &e), None),
    };
    let atts = match &a.identities {
        Some(ids) => match ids.filter(atts, |t| &t.signature) {
            Ok(v) => v,
            Err(why) => return (failed("attestation", &VerifyError::Failed(why)), None),
        },
        None => atts,
    };
    if atts.is_empty() {
        return (Outcome::Fail(format!("no matching attestations for authority {} for {image}", a.name)), None);
    }
    let mut by_name = Map::new();
    for want in &a.attestations {
        let of_type: Vec<_> = atts.iter().filter(|t| t.predicate_type == want.predicate_uri).collect();
        if of_type.is_empty() {
            let mut seen: Vec<&str> = atts.iter().map(|t| t.predicate_type.as_str()).collect();
            seen.sort();
            seen.dedup();
            let msg = format!(
                "no matching attestations with type {}, checked the following predicateTypes: {:?}",
                want.predicate_type,
                seen.join(",")
            );
            return (Outcome::Fail(msg), None);
        }
        let passing: Vec<&VerifiedSignature> = match &want.check {
            None => of_type.iter().map(|t| &t.signature).collect(),
            Some(PolicyCheck::Unsupported(why)) => return (Outcome::Error(why.clone()), None),
            Some(PolicyCheck::Rego(rego)) => {
                let mut first_err = None;
                let mut ok = Vec::new();
                for t in &of_type {
                    match rego.evaluate(&t.statement()) {
                        Ok(None) => ok.push(&t.signature),
                        Ok(Some(w)) | Err(w) => {
                            first_err.get_or_insert(w);
                        }
                    }
                }
                if ok.is_empty() {
                    let e = first_err.unwrap_or_default();
                    return (Outcome::Fail(format!("failed evaluating rego policy for type {}: {e}", want.name)), None);
                }
                ok
            }
        };
        let listed: Vec<Value> = passing
            .iter()
            .map(|s| {
                let mut v = serde_json::to_value(s).unwrap_or(Value::Null);
                if let Value::Object(m) = &mut v {
                    m.insert("predicateType".into(), Value::String(want.predicate_uri.clone()));
                }
                v
            })
            .collect();
        by_name.insert(want.name.clone(), Value::Array(listed));
    }
    (Outcome::Pass, Some(json!({"attestations": by_name})))
}
