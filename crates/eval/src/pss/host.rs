//! Checks on host-level access: `hostNamespaces`, `hostPorts`,
//! `hostProbesAndHostLifecycle` and `windowsHostProcess` (all Baseline).

use std::collections::BTreeSet;

use crate::k8s::{HttpGetAction, ObjectMeta, PodSpec, TcpSocketAction};

use super::Implicated;
use super::util::{Outcome, containers, fail, implicate, implicate_containers, join_quote, pluralize, setters_phrase};

/// hostNetwork, hostPID and hostIPC must be unset or false (v1.0+).
pub(crate) fn host_namespaces_v1_0(_meta: &ObjectMeta, spec: &PodSpec) -> Outcome {
    let mut used = Vec::new();
    if spec.host_network == Some(true) {
        used.push("hostNetwork");
    }
    if spec.host_pid == Some(true) {
        used.push("hostPID");
    }
    if spec.host_ipc == Some(true) {
        used.push("hostIPC");
    }
    if used.is_empty() {
        return None;
    }
    used.sort_unstable();
    fail("host namespaces", used.join(", "), Implicated::Pod)
}

/// No container port may set a non-zero hostPort (v1.0+).
pub(crate) fn host_ports_v1_0(_meta: &ObjectMeta, spec: &PodSpec) -> Outcome {
    let mut bad_containers = Vec::new();
    // Upstream collects the ports as strings in a sorted set.
    let mut ports = BTreeSet::new();
    for c in containers(spec) {
        let mut bad = false;
        for port in &c.ports {
            if let Some(hp) = port.host_port.filter(|p| *p != 0) {
                bad = true;
                ports.insert(hp.to_string());
            }
        }
        if bad {
            bad_containers.push(c.name.clone());
        }
    }
    if bad_containers.is_empty() {
        return None;
    }
    let ports: Vec<String> = ports.into_iter().collect();
    fail(
        "hostPort",
        format!(
            "{} {} {} {} {}",
            pluralize("container", "containers", bad_containers.len()),
            join_quote(&bad_containers),
            pluralize("uses", "use", bad_containers.len()),
            pluralize("hostPort", "hostPorts", ports.len()),
            ports.join(", ")
        ),
        implicate_containers(&bad_containers),
    )
}

fn http_host(action: Option<&HttpGetAction>) -> Option<&str> {
    action.and_then(|a| a.host.as_deref()).filter(|h| !h.is_empty())
}

fn tcp_host(action: Option<&TcpSocketAction>) -> Option<&str> {
    action.and_then(|a| a.host.as_deref()).filter(|h| !h.is_empty())
}

/// Probes and lifecycle handlers must not set `host` (v1.34+).
pub(crate) fn host_probes_and_host_lifecycle_v1_34(_meta: &ObjectMeta, spec: &PodSpec) -> Outcome {
    let mut visit_order = Vec::new();
    let mut bad_containers = BTreeSet::new();
    let mut hosts = BTreeSet::new();
    for c in containers(spec) {
        let mut found = Vec::new();
        for probe in [&c.liveness_probe, &c.readiness_probe, &c.startup_probe].into_iter().flatten() {
            found.extend(http_host(probe.http_get.as_ref()));
            found.extend(tcp_host(probe.tcp_socket.as_ref()));
        }
        if let Some(lifecycle) = &c.lifecycle {
            for handler in [&lifecycle.post_start, &lifecycle.pre_stop].into_iter().flatten() {
                found.extend(http_host(handler.http_get.as_ref()));
                found.extend(tcp_host(handler.tcp_socket.as_ref()));
            }
        }
        if !found.is_empty() {
            bad_containers.insert(c.name.clone());
            visit_order.push(c.name.clone());
            hosts.extend(found.into_iter().map(str::to_string));
        }
    }
    if bad_containers.is_empty() {
        return None;
    }
    let names: Vec<String> = bad_containers.into_iter().collect();
    let hosts: Vec<String> = hosts.into_iter().collect();
    fail(
        "probe or lifecycle host",
        format!(
            "{} {} {} {} {}",
            pluralize("container", "containers", names.len()),
            join_quote(&names),
            pluralize("uses", "use", names.len()),
            pluralize("probe or lifecycle host", "probe or lifecycle hosts", hosts.len()),
            join_quote(&hosts)
        ),
        implicate_containers(&visit_order),
    )
}

/// windowsOptions.hostProcess must be unset or false (v1.0+).
pub(crate) fn windows_host_process_v1_0(_meta: &ObjectMeta, spec: &PodSpec) -> Outcome {
    let bad_containers: Vec<String> = containers(spec)
        .filter(|c| {
            c.security_context.as_ref().and_then(|sc| sc.windows_options.as_ref()).and_then(|w| w.host_process)
                == Some(true)
        })
        .map(|c| c.name.clone())
        .collect();
    let pod_bad =
        spec.security_context.as_ref().and_then(|sc| sc.windows_options.as_ref()).and_then(|w| w.host_process)
            == Some(true);
    if !pod_bad && bad_containers.is_empty() {
        return None;
    }
    fail(
        "hostProcess",
        format!(
            "{} must not set securityContext.windowsOptions.hostProcess=true",
            setters_phrase(pod_bad, &bad_containers)
        ),
        implicate(pod_bad, &bad_containers),
    )
}
