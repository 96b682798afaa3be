//! Privilege checks: `privileged` and `capabilities_baseline` (Baseline),
//! `allowPrivilegeEscalation` and `capabilities_restricted` (Restricted).

use std::collections::BTreeSet;

use crate::k8s::{ObjectMeta, PodSpec};

use super::util::{Outcome, containers, containers_phrase, fail, implicate_containers, is_windows, join_quote};

/// securityContext.privileged must be unset or false (v1.0+).
pub(crate) fn privileged_v1_0(_meta: &ObjectMeta, spec: &PodSpec) -> Outcome {
    let bad: Vec<String> = containers(spec)
        .filter(|c| c.security_context.as_ref().and_then(|sc| sc.privileged).unwrap_or(false))
        .map(|c| c.name.clone())
        .collect();
    if bad.is_empty() {
        return None;
    }
    fail(
        "privileged",
        format!("{} must not set securityContext.privileged=true", containers_phrase(&bad)),
        implicate_containers(&bad),
    )
}

/// Capabilities a Baseline container may add.
const BASELINE_ALLOWED_CAPABILITIES: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// capabilities.add may only list the default set (v1.0+).
pub(crate) fn capabilities_baseline_v1_0(_meta: &ObjectMeta, spec: &PodSpec) -> Outcome {
    let mut bad = Vec::new();
    let mut caps = BTreeSet::new();
    for c in containers(spec) {
        let Some(capabilities) = c.security_context.as_ref().and_then(|sc| sc.capabilities.as_ref()) else {
            continue;
        };
        let mut valid = true;
        for cap in &capabilities.add {
            if !BASELINE_ALLOWED_CAPABILITIES.contains(&cap.as_str()) {
                valid = false;
                caps.insert(cap.clone());
            }
        }
        if !valid {
            bad.push(c.name.clone());
        }
    }
    if bad.is_empty() {
        return None;
    }
    let caps: Vec<String> = caps.into_iter().collect();
    fail(
        "non-default capabilities",
        format!(
            "{} must not include {} in securityContext.capabilities.add",
            containers_phrase(&bad),
            join_quote(&caps)
        ),
        implicate_containers(&bad),
    )
}

/// allowPrivilegeEscalation must be explicitly false (v1.8+).
pub(crate) fn allow_privilege_escalation_v1_8(_meta: &ObjectMeta, spec: &PodSpec) -> Outcome {
    let bad: Vec<String> = containers(spec)
        .filter(|c| c.security_context.as_ref().and_then(|sc| sc.allow_privilege_escalation) != Some(false))
        .map(|c| c.name.clone())
        .collect();
    if bad.is_empty() {
        return None;
    }
    fail(
        "allowPrivilegeEscalation != false",
        format!("{} must set securityContext.allowPrivilegeEscalation=false", containers_phrase(&bad)),
        implicate_containers(&bad),
    )
}

/// As v1.8, but Windows pods (`spec.os.name: windows`) are exempt (v1.25+).
pub(crate) fn allow_privilege_escalation_v1_25(meta: &ObjectMeta, spec: &PodSpec) -> Outcome {
    if is_windows(spec) {
        return None;
    }
    allow_privilege_escalation_v1_8(meta, spec)
}

/// Containers must drop ALL and may only add NET_BIND_SERVICE (v1.22+).
pub(crate) fn capabilities_restricted_v1_22(_meta: &ObjectMeta, spec: &PodSpec) -> Outcome {
    let mut missing_drop_all = Vec::new();
    let mut adding_forbidden = Vec::new();
    let mut forbidden = BTreeSet::new();
    for c in containers(spec) {
        let Some(capabilities) = c.security_context.as_ref().and_then(|sc| sc.capabilities.as_ref()) else {
            missing_drop_all.push(c.name.clone());
            continue;
        };
        if !capabilities.drop.iter().any(|d| d == "ALL") {
            missing_drop_all.push(c.name.clone());
        }
        let mut added_forbidden = false;
        for cap in &capabilities.add {
            if cap != "NET_BIND_SERVICE" {
                added_forbidden = true;
                forbidden.insert(cap.clone());
            }
        }
        if added_forbidden {
            adding_forbidden.push(c.name.clone());
        }
    }
    let mut details = Vec::new();
    if !missing_drop_all.is_empty() {
        details.push(format!(
            "{} must set securityContext.capabilities.drop=[\"ALL\"]",
            containers_phrase(&missing_drop_all)
        ));
    }
    if !adding_forbidden.is_empty() {
        let forbidden: Vec<String> = forbidden.into_iter().collect();
        details.push(format!(
            "{} must not include {} in securityContext.capabilities.add",
            containers_phrase(&adding_forbidden),
            join_quote(&forbidden)
        ));
    }
    if details.is_empty() {
        return None;
    }
    let mut implicated = missing_drop_all;
    implicated.extend(adding_forbidden);
    fail("unrestricted capabilities", details.join("; "), implicate_containers(&visit_ordered(spec, &implicated)))
}

/// As v1.22, but Windows pods are exempt (v1.25+).
pub(crate) fn capabilities_restricted_v1_25(meta: &ObjectMeta, spec: &PodSpec) -> Outcome {
    if is_windows(spec) {
        return None;
    }
    capabilities_restricted_v1_22(meta, spec)
}

/// Reorders `names` into the pod's container visiting order.
fn visit_ordered(spec: &PodSpec, names: &[String]) -> Vec<String> {
    containers(spec).map(|c| c.name.clone()).filter(|n| names.contains(n)).collect()
}
