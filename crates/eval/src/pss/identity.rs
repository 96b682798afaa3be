//! Checks on the user a container runs as: `runAsNonRoot` and `runAsUser`
//! (Restricted), and the `/proc` mount checks `procMount` (Baseline) and
//! `procMount_restricted` (Restricted, overrides `procMount` from v1.35).
//!
//! From policy v1.35 the user-namespace relaxation of KEP-127 applies
//! unconditionally: a pod with `hostUsers: false` passes `runAsNonRoot`,
//! `runAsUser` and the Baseline `procMount` check.

use std::collections::BTreeSet;

use crate::k8s::{ObjectMeta, PodSpec};

use super::util::{
    Outcome, containers, containers_phrase, fail, implicate, implicate_containers, in_user_namespace, join_quote,
    setters_phrase,
};

/// runAsNonRoot must be true at pod level or on every container (v1.0+).
pub(crate) fn run_as_non_root_v1_0(_meta: &ObjectMeta, spec: &PodSpec) -> Outcome {
    let pod_value = spec.security_context.as_ref().and_then(|sc| sc.run_as_non_root);
    let pod_bad = pod_value == Some(false);
    let pod_non_root = pod_value == Some(true);

    let mut explicit_bad = Vec::new();
    let mut implicit_bad = Vec::new();
    for c in containers(spec) {
        match c.security_context.as_ref().and_then(|sc| sc.run_as_non_root) {
            Some(false) => explicit_bad.push(c.name.clone()),
            Some(true) => {}
            None if !pod_non_root => implicit_bad.push(c.name.clone()),
            None => {}
        }
    }

    if pod_bad || !explicit_bad.is_empty() {
        return fail(
            "runAsNonRoot != true",
            format!("{} must not set securityContext.runAsNonRoot=false", setters_phrase(pod_bad, &explicit_bad)),
            implicate(pod_bad, &explicit_bad),
        );
    }
    if !implicit_bad.is_empty() {
        return fail(
            "runAsNonRoot != true",
            format!("pod or {} must set securityContext.runAsNonRoot=true", containers_phrase(&implicit_bad)),
            implicate_containers(&implicit_bad),
        );
    }
    None
}

/// As v1.0, but pods in a user namespace are exempt (v1.35+).
pub(crate) fn run_as_non_root_v1_35(meta: &ObjectMeta, spec: &PodSpec) -> Outcome {
    if in_user_namespace(spec) {
        return None;
    }
    run_as_non_root_v1_0(meta, spec)
}

/// runAsUser must not be 0 at pod or container level (v1.23+).
pub(crate) fn run_as_user_v1_23(_meta: &ObjectMeta, spec: &PodSpec) -> Outcome {
    let pod_bad = spec.security_context.as_ref().and_then(|sc| sc.run_as_user) == Some(0);
    let bad: Vec<String> = containers(spec)
        .filter(|c| c.security_context.as_ref().and_then(|sc| sc.run_as_user) == Some(0))
        .map(|c| c.name.clone())
        .collect();
    if !pod_bad && bad.is_empty() {
        return None;
    }
    fail("runAsUser=0", format!("{} must not set runAsUser=0", setters_phrase(pod_bad, &bad)), implicate(pod_bad, &bad))
}

/// As v1.23, but pods in a user namespace are exempt (v1.35+).
pub(crate) fn run_as_user_v1_35(meta: &ObjectMeta, spec: &PodSpec) -> Outcome {
    if in_user_namespace(spec) {
        return None;
    }
    run_as_user_v1_23(meta, spec)
}

/// procMount must be unset or `Default`, unconditionally (Baseline v1.0+,
/// and the `procMount_restricted` check from v1.35).
pub(crate) fn proc_mount_v1_0(_meta: &ObjectMeta, spec: &PodSpec) -> Outcome {
    let mut bad = Vec::new();
    let mut types = BTreeSet::new();
    for c in containers(spec) {
        if let Some(pm) = c.security_context.as_ref().and_then(|sc| sc.proc_mount.as_deref())
            && pm != "Default"
        {
            bad.push(c.name.clone());
            types.insert(pm.to_string());
        }
    }
    if bad.is_empty() {
        return None;
    }
    let types: Vec<String> = types.into_iter().collect();
    fail(
        "procMount",
        format!("{} must not set securityContext.procMount to {}", containers_phrase(&bad), join_quote(&types)),
        implicate_containers(&bad),
    )
}

/// Baseline from v1.35: any procMount is allowed in a user namespace.
pub(crate) fn proc_mount_baseline_v1_35(meta: &ObjectMeta, spec: &PodSpec) -> Outcome {
    if in_user_namespace(spec) {
        return None;
    }
    proc_mount_v1_0(meta, spec)
}
