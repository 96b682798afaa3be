//! `sysctls` (Baseline): only the namespaced, isolated "safe" sysctls may be
//! set. The safe set has grown with the policy version.

use crate::k8s::{ObjectMeta, PodSpec};

use super::Implicated;
use super::util::{Outcome, fail};

/// Safe sysctls, each with the first policy minor version that allows it.
const SAFE_SYSCTLS: &[(u32, &str)] = &[
    (0, "kernel.shm_rmid_forced"),
    (0, "net.ipv4.ip_local_port_range"),
    (0, "net.ipv4.tcp_syncookies"),
    (0, "net.ipv4.ping_group_range"),
    (0, "net.ipv4.ip_unprivileged_port_start"),
    (27, "net.ipv4.ip_local_reserved_ports"),
    (29, "net.ipv4.tcp_keepalive_time"),
    (29, "net.ipv4.tcp_fin_timeout"),
    (29, "net.ipv4.tcp_keepalive_intvl"),
    (29, "net.ipv4.tcp_keepalive_probes"),
    (32, "net.ipv4.tcp_rmem"),
    (32, "net.ipv4.tcp_wmem"),
    (37, "net.ipv4.tcp_slow_start_after_idle"),
    (37, "net.ipv4.tcp_notsent_lowat"),
];

/// `true` when `name` is a safe sysctl at policy minor version `minor`.
pub(crate) fn is_safe_sysctl(name: &str, minor: u32) -> bool {
    SAFE_SYSCTLS.iter().any(|(since, safe)| *since <= minor && *safe == name)
}

fn sysctls(spec: &PodSpec, minor: u32) -> Outcome {
    let forbidden: Vec<&str> = spec
        .security_context
        .iter()
        .flat_map(|sc| sc.sysctls.iter())
        .map(|s| s.name.as_str())
        .filter(|name| !is_safe_sysctl(name, minor))
        .collect();
    if forbidden.is_empty() {
        return None;
    }
    fail("forbidden sysctls", forbidden.join(", "), Implicated::Pod)
}

/// The original five safe sysctls (v1.0+).
pub(crate) fn sysctls_v1_0(_meta: &ObjectMeta, spec: &PodSpec) -> Outcome {
    sysctls(spec, 0)
}

/// Adds `net.ipv4.ip_local_reserved_ports` (v1.27+).
pub(crate) fn sysctls_v1_27(_meta: &ObjectMeta, spec: &PodSpec) -> Outcome {
    sysctls(spec, 27)
}

/// Adds the TCP keepalive and fin-timeout sysctls (v1.29+).
pub(crate) fn sysctls_v1_29(_meta: &ObjectMeta, spec: &PodSpec) -> Outcome {
    sysctls(spec, 29)
}

/// Adds `net.ipv4.tcp_rmem` and `net.ipv4.tcp_wmem` (v1.32+).
pub(crate) fn sysctls_v1_32(_meta: &ObjectMeta, spec: &PodSpec) -> Outcome {
    sysctls(spec, 32)
}

/// Adds `net.ipv4.tcp_slow_start_after_idle` and `net.ipv4.tcp_notsent_lowat`
/// (v1.37+).
pub(crate) fn sysctls_v1_37(_meta: &ObjectMeta, spec: &PodSpec) -> Outcome {
    sysctls(spec, 37)
}
