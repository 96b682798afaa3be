//! Security-profile checks: `appArmorProfile`, `seLinuxOptions`,
//! `seccompProfile_baseline` (Baseline) and `seccompProfile_restricted`
//! (Restricted, overrides `seccompProfile_baseline` from v1.19).

use std::collections::BTreeSet;

use crate::k8s::{ObjectMeta, PodSpec, SeLinuxOptions};

use super::util::{
    Outcome, containers, containers_phrase, fail, go_quote, implicate, implicate_containers, is_windows, join_quote,
    pluralize, setters_phrase,
};

const APPARMOR_ANNOTATION_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";

fn allowed_apparmor_annotation(value: &str) -> bool {
    value.is_empty() || value == "runtime/default" || value.starts_with("localhost/")
}

fn allowed_apparmor_type(value: &str) -> bool {
    matches!(value, "RuntimeDefault" | "Localhost")
}

/// AppArmor must not be disabled or overridden: the `appArmorProfile` field
/// may only be `RuntimeDefault`/`Localhost`, and the beta container
/// annotations only `runtime/default`, `localhost/*` or empty (v1.0+).
pub(crate) fn app_armor_profile_v1_0(meta: &ObjectMeta, spec: &PodSpec) -> Outcome {
    let mut bad_values = BTreeSet::new();
    let mut setters = Vec::new();
    let mut pod_bad = false;

    if let Some(profile) = spec.security_context.as_ref().and_then(|sc| sc.app_armor_profile.as_ref()) {
        let ty = profile.type_.as_deref().unwrap_or("");
        if !allowed_apparmor_type(ty) {
            pod_bad = true;
            setters.push("pod".to_string());
            bad_values.insert(ty.to_string());
        }
    }

    let mut bad_containers = Vec::new();
    for c in containers(spec) {
        if let Some(profile) = c.security_context.as_ref().and_then(|sc| sc.app_armor_profile.as_ref()) {
            let ty = profile.type_.as_deref().unwrap_or("");
            if !allowed_apparmor_type(ty) {
                bad_containers.push(c.name.clone());
                bad_values.insert(ty.to_string());
            }
        }
    }
    if !bad_containers.is_empty() {
        setters.push(containers_phrase(&bad_containers));
    }

    let mut implicated = bad_containers;
    let mut annotations = Vec::new();
    for (key, value) in &meta.annotations {
        let Some(target) = key.strip_prefix(APPARMOR_ANNOTATION_PREFIX) else {
            continue;
        };
        if allowed_apparmor_annotation(value) {
            continue;
        }
        annotations.push(format!("{key}={}", go_quote(value)));
        if containers(spec).any(|c| c.name == target) {
            implicated.push(target.to_string());
        } else {
            // The annotation names no container: only the pod metadata is at fault.
            pod_bad = true;
        }
    }

    let mut values: Vec<String> = bad_values.into_iter().collect();
    if !annotations.is_empty() {
        annotations.sort();
        setters.push(pluralize("annotation", "annotations", annotations.len()).to_string());
        values.extend(annotations);
    }
    if setters.is_empty() {
        return None;
    }
    fail(
        pluralize("forbidden AppArmor profile", "forbidden AppArmor profiles", values.len()),
        format!("{} must not set AppArmor profile type to {}", setters.join(" and "), join_quote(&values)),
        implicate(pod_bad, &implicated),
    )
}

const SELINUX_TYPES_V1_0: &[&str] = &["", "container_t", "container_init_t", "container_kvm_t"];
const SELINUX_TYPES_V1_31: &[&str] = &["", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"];

fn se_linux_options(spec: &PodSpec, allowed_types: &[&str]) -> Outcome {
    let mut bad_types = BTreeSet::new();
    let mut set_user = false;
    let mut set_role = false;
    let mut valid = |opts: &SeLinuxOptions| {
        let mut ok = true;
        let ty = opts.type_.as_deref().unwrap_or("");
        if !allowed_types.contains(&ty) {
            ok = false;
            bad_types.insert(ty.to_string());
        }
        if opts.user.as_deref().is_some_and(|u| !u.is_empty()) {
            ok = false;
            set_user = true;
        }
        if opts.role.as_deref().is_some_and(|r| !r.is_empty()) {
            ok = false;
            set_role = true;
        }
        ok
    };

    let pod_bad =
        spec.security_context.as_ref().and_then(|sc| sc.se_linux_options.as_ref()).is_some_and(|opts| !valid(opts));
    let mut bad_containers = Vec::new();
    for c in containers(spec) {
        if let Some(opts) = c.security_context.as_ref().and_then(|sc| sc.se_linux_options.as_ref())
            && !valid(opts)
        {
            bad_containers.push(c.name.clone());
        }
    }
    if !pod_bad && bad_containers.is_empty() {
        return None;
    }

    let mut data = Vec::new();
    if !bad_types.is_empty() {
        let types: Vec<String> = bad_types.into_iter().collect();
        data.push(format!("{} {}", pluralize("type", "types", types.len()), join_quote(&types)));
    }
    if set_user {
        data.push("user may not be set".to_string());
    }
    if set_role {
        data.push("role may not be set".to_string());
    }
    fail(
        "seLinuxOptions",
        format!(
            "{} set forbidden securityContext.seLinuxOptions: {}",
            setters_phrase(pod_bad, &bad_containers),
            data.join("; ")
        ),
        implicate(pod_bad, &bad_containers),
    )
}

/// SELinux type limited to the container types; user and role unset (v1.0+).
pub(crate) fn se_linux_options_v1_0(_meta: &ObjectMeta, spec: &PodSpec) -> Outcome {
    se_linux_options(spec, SELINUX_TYPES_V1_0)
}

/// As v1.0, plus `container_engine_t` (v1.31+).
pub(crate) fn se_linux_options_v1_31(_meta: &ObjectMeta, spec: &PodSpec) -> Outcome {
    se_linux_options(spec, SELINUX_TYPES_V1_31)
}

const SECCOMP_POD_ANNOTATION: &str = "seccomp.security.alpha.kubernetes.io/pod";
const SECCOMP_CONTAINER_ANNOTATION_PREFIX: &str = "container.seccomp.security.alpha.kubernetes.io/";

fn valid_seccomp_annotation(value: &str) -> bool {
    value == "runtime/default" || value == "docker/default" || value.starts_with("localhost/")
}

fn valid_seccomp_type(value: &str) -> bool {
    matches!(value, "RuntimeDefault" | "Localhost")
}

/// Before v1.19 seccomp was configured through alpha annotations; only
/// runtime/docker default and localhost profiles are allowed (v1.0+).
pub(crate) fn seccomp_profile_baseline_v1_0(meta: &ObjectMeta, spec: &PodSpec) -> Outcome {
    let mut forbidden = BTreeSet::new();
    let mut pod_bad = false;
    if let Some(value) = meta.annotations.get(SECCOMP_POD_ANNOTATION)
        && !valid_seccomp_annotation(value)
    {
        pod_bad = true;
        forbidden.insert(format!("{SECCOMP_POD_ANNOTATION}={}", go_quote(value)));
    }
    let mut bad_containers = Vec::new();
    for c in containers(spec) {
        let key = format!("{SECCOMP_CONTAINER_ANNOTATION_PREFIX}{}", c.name);
        if let Some(value) = meta.annotations.get(&key)
            && !valid_seccomp_annotation(value)
        {
            bad_containers.push(c.name.clone());
            forbidden.insert(format!("{key}={}", go_quote(value)));
        }
    }
    if forbidden.is_empty() {
        return None;
    }
    let forbidden: Vec<String> = forbidden.into_iter().collect();
    fail(
        "seccompProfile",
        format!("forbidden {} {}", pluralize("annotation", "annotations", forbidden.len()), forbidden.join(", ")),
        implicate(pod_bad, &bad_containers),
    )
}

/// Pod-level and container-level seccompProfile types that are set to a
/// forbidden value, and the containers that inherit nothing valid.
struct SeccompScan {
    pod_bad: bool,
    pod_valid: bool,
    explicit_bad: Vec<String>,
    unset: Vec<String>,
    bad_values: BTreeSet<String>,
}

fn scan_seccomp(spec: &PodSpec) -> SeccompScan {
    let mut scan = SeccompScan {
        pod_bad: false,
        pod_valid: false,
        explicit_bad: Vec::new(),
        unset: Vec::new(),
        bad_values: BTreeSet::new(),
    };
    if let Some(profile) = spec.security_context.as_ref().and_then(|sc| sc.seccomp_profile.as_ref()) {
        let ty = profile.type_.as_deref().unwrap_or("");
        if valid_seccomp_type(ty) {
            scan.pod_valid = true;
        } else {
            scan.pod_bad = true;
            scan.bad_values.insert(ty.to_string());
        }
    }
    for c in containers(spec) {
        match c.security_context.as_ref().and_then(|sc| sc.seccomp_profile.as_ref()) {
            Some(profile) => {
                let ty = profile.type_.as_deref().unwrap_or("");
                if !valid_seccomp_type(ty) {
                    scan.explicit_bad.push(c.name.clone());
                    scan.bad_values.insert(ty.to_string());
                }
            }
            None => scan.unset.push(c.name.clone()),
        }
    }
    scan
}

fn explicit_seccomp_failure(scan: &SeccompScan) -> Outcome {
    if !scan.pod_bad && scan.explicit_bad.is_empty() {
        return None;
    }
    let values: Vec<&String> = scan.bad_values.iter().collect();
    fail(
        "seccompProfile",
        format!(
            "{} must not set securityContext.seccompProfile.type to {}",
            setters_phrase(scan.pod_bad, &scan.explicit_bad),
            join_quote(&values)
        ),
        implicate(scan.pod_bad, &scan.explicit_bad),
    )
}

/// If set, seccompProfile.type must be RuntimeDefault or Localhost (v1.19+).
pub(crate) fn seccomp_profile_baseline_v1_19(_meta: &ObjectMeta, spec: &PodSpec) -> Outcome {
    explicit_seccomp_failure(&scan_seccomp(spec))
}

/// seccompProfile.type must be RuntimeDefault or Localhost, set at pod level
/// or on every container (v1.19+).
pub(crate) fn seccomp_profile_restricted_v1_19(_meta: &ObjectMeta, spec: &PodSpec) -> Outcome {
    let scan = scan_seccomp(spec);
    if let Some(failure) = explicit_seccomp_failure(&scan) {
        return Some(failure);
    }
    if scan.pod_valid || scan.unset.is_empty() {
        return None;
    }
    fail(
        "seccompProfile",
        format!(
            "pod or {} must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\"",
            containers_phrase(&scan.unset)
        ),
        implicate_containers(&scan.unset),
    )
}

/// As v1.19, but Windows pods are exempt (v1.25+).
pub(crate) fn seccomp_profile_restricted_v1_25(meta: &ObjectMeta, spec: &PodSpec) -> Outcome {
    if is_windows(spec) {
        return None;
    }
    seccomp_profile_restricted_v1_19(meta, spec)
}
