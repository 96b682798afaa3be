//! Table-driven unit tests of individual checks: messages, attribution and
//! behaviour that differs between policy versions.

use serde_json::json;

use super::tests::{containers, pod, policy, verdict};
use super::*;

#[test]
fn messages() {
    let two = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}});
    let cases: Vec<(&str, &str, serde_json::Value, &str)> = vec![
        (
            "restricted:v1.24",
            "allowPrivilegeEscalation",
            two.clone(),
            "allowPrivilegeEscalation != false (containers \"a\", \"b\" must set securityContext.allowPrivilegeEscalation=false)",
        ),
        (
            "baseline:latest",
            "hostNamespaces",
            json!({"spec": {"hostPID": true, "hostNetwork": true, "hostIPC": false}}),
            "host namespaces (hostNetwork, hostPID)",
        ),
        (
            "baseline:latest",
            "hostPorts",
            json!({"spec": {"containers": [
                {"name": "a", "ports": [{"hostPort": 9000}, {"hostPort": 80}, {"hostPort": 0}]}
            ]}}),
            "hostPort (container \"a\" uses hostPorts 80, 9000)",
        ),
        (
            "restricted:latest",
            "capabilities_restricted",
            json!({"spec": {"containers": [
                {"name": "a", "securityContext": {"capabilities": {"add": ["FOO", "BAR"]}}},
                {"name": "b", "securityContext": {"capabilities": {"add": ["BAR", "BAZ"]}}},
                {"name": "c", "securityContext": {"capabilities":
                    {"add": ["NET_BIND_SERVICE", "CHOWN"], "drop": ["ALL", "FOO"]}}},
            ]}}),
            "unrestricted capabilities (containers \"a\", \"b\" must set securityContext.capabilities.drop=[\"ALL\"]; containers \"a\", \"b\", \"c\" must not include \"BAR\", \"BAZ\", \"CHOWN\", \"FOO\" in securityContext.capabilities.add)",
        ),
        (
            "restricted:latest",
            "restrictedVolumes",
            json!({"spec": {"volumes": [
                {"name": "x", "nfs": {}}, {"name": "y", "secret": {}},
                {"name": "z", "hostPath": {"path": "/"}}, {"name": "w", "futureVolume": {}},
            ]}}),
            "restricted volume types (volumes \"x\", \"z\", \"w\" use restricted volume types \"hostPath\", \"nfs\", \"unknown\")",
        ),
        (
            "baseline:latest",
            "appArmorProfile",
            json!({
                "metadata": {"annotations": {
                    "container.apparmor.security.beta.kubernetes.io/a": "unconfined"}},
                "spec": {"securityContext": {"appArmorProfile": {"type": "Unconfined"}},
                         "containers": [{"name": "a"}]}
            }),
            "forbidden AppArmor profiles (pod and annotation must not set AppArmor profile type to \"Unconfined\", \"container.apparmor.security.beta.kubernetes.io/a=\"unconfined\"\")",
        ),
        (
            "baseline:latest",
            "seLinuxOptions",
            json!({"spec": {
                "securityContext": {"seLinuxOptions": {"type": "bad", "user": "u"}},
                "containers": [{"name": "a", "securityContext": {"seLinuxOptions": {"role": "r"}}}]
            }}),
            "seLinuxOptions (pod and container \"a\" set forbidden securityContext.seLinuxOptions: type \"bad\"; user may not be set; role may not be set)",
        ),
        (
            "baseline:v1.18",
            "seccompProfile_baseline",
            json!({
                "metadata": {"annotations": {
                    "seccomp.security.alpha.kubernetes.io/pod": "unconfined",
                    "container.seccomp.security.alpha.kubernetes.io/a": "localhost/ok"}},
                "spec": {"containers": [{"name": "a"}]}
            }),
            "seccompProfile (forbidden annotation seccomp.security.alpha.kubernetes.io/pod=\"unconfined\")",
        ),
        (
            "baseline:v1.36",
            "sysctls",
            json!({"spec": {"securityContext": {"sysctls": [
                {"name": "net.ipv4.tcp_rmem"}, {"name": "kernel.msgmax"},
                {"name": "net.ipv4.tcp_notsent_lowat"}
            ]}}}),
            "forbidden sysctls (kernel.msgmax, net.ipv4.tcp_notsent_lowat)",
        ),
        (
            "baseline:latest",
            "hostProbesAndHostLifecycle",
            json!({"spec": {"containers": [
                {"name": "b", "livenessProbe": {"httpGet": {"host": "x", "port": 1}},
                 "lifecycle": {"preStop": {"tcpSocket": {"host": "a", "port": 2}}}},
                {"name": "a", "startupProbe": {"tcpSocket": {"host": "x", "port": 1}}}
            ]}}),
            "probe or lifecycle host (containers \"a\", \"b\" use probe or lifecycle hosts \"a\", \"x\")",
        ),
    ];
    for (p, check, value, expected) in cases {
        let v = verdict(p, check, value);
        assert!(!v.allowed, "{check} at {p} allowed");
        assert_eq!(v.message(), expected, "{check} at {p}");
    }
}

#[test]
fn allowed_verdict_and_aggregate() {
    let (meta, spec) = pod(json!({"spec": {"containers": [{"name": "a"}]}}));
    let verdicts = evaluate(&policy("baseline:latest"), &meta, &spec);
    assert!(verdicts.iter().all(|v| v.allowed && v.message().is_empty()));
    assert_eq!(aggregate_denial(&verdicts), None);

    let (meta, spec) = pod(json!({"spec": {
        "hostNetwork": true,
        "containers": [{"name": "a", "securityContext": {"privileged": true}}]
    }}));
    let verdicts = evaluate(&policy("baseline:latest"), &meta, &spec);
    assert_eq!(
        aggregate_denial(&verdicts).as_deref(),
        Some(
            "host namespaces (hostNetwork), privileged (container \"a\" must not set securityContext.privileged=true)"
        )
    );
    let no_detail = CheckVerdict {
        check_id: "x",
        level: Level::Baseline,
        allowed: false,
        forbidden_reason: "reason".into(),
        forbidden_detail: String::new(),
        implicated: Implicated::Pod,
    };
    assert_eq!(no_detail.message(), "reason");
}

#[test]
fn implicated_attribution() {
    let cases: Vec<(&str, &str, serde_json::Value, Implicated)> = vec![
        // Pod-level unset, containers unset: the containers are implicated.
        (
            "restricted:latest",
            "runAsNonRoot",
            json!({"spec": {"initContainers": [{"name": "i"}], "containers": [
                {"name": "a"}, {"name": "b", "securityContext": {"runAsNonRoot": true}}]}}),
            containers(&["i", "a"]),
        ),
        (
            "restricted:latest",
            "runAsNonRoot",
            json!({"spec": {"securityContext": {"runAsNonRoot": false},
                            "containers": [{"name": "a", "securityContext": {"runAsNonRoot": false}}]}}),
            Implicated::Pod,
        ),
        (
            "restricted:latest",
            "runAsNonRoot",
            json!({"spec": {"securityContext": {"runAsNonRoot": true},
                            "containers": [{"name": "a"}, {"name": "b", "securityContext": {"runAsNonRoot": false}}]}}),
            containers(&["b"]),
        ),
        (
            "baseline:latest",
            "hostNamespaces",
            json!({"spec": {"hostNetwork": true, "containers": [{"name": "a"}]}}),
            Implicated::Pod,
        ),
        (
            "baseline:latest",
            "sysctls",
            json!({"spec": {"securityContext": {"sysctls": [{"name": "x"}]}}}),
            Implicated::Pod,
        ),
        (
            "baseline:latest",
            "privileged",
            json!({"spec": {"ephemeralContainers": [
                {"name": "dbg", "securityContext": {"privileged": true}}]}}),
            containers(&["dbg"]),
        ),
        (
            "baseline:latest",
            "appArmorProfile",
            json!({"metadata": {"annotations": {
                    "container.apparmor.security.beta.kubernetes.io/a": "unconfined"}},
                   "spec": {"containers": [{"name": "a"}]}}),
            containers(&["a"]),
        ),
        (
            "baseline:latest",
            "appArmorProfile",
            json!({"metadata": {"annotations": {
                    "container.apparmor.security.beta.kubernetes.io/ghost": "unconfined"}},
                   "spec": {"containers": [{"name": "a"}]}}),
            Implicated::Pod,
        ),
        (
            "restricted:latest",
            "seccompProfile_restricted",
            json!({"spec": {"containers": [
                {"name": "a", "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}},
                {"name": "b"}]}}),
            containers(&["b"]),
        ),
        (
            "baseline:latest",
            "windowsHostProcess",
            json!({"spec": {"securityContext": {"windowsOptions": {"hostProcess": true}},
                            "containers": [{"name": "a"}]}}),
            Implicated::Pod,
        ),
    ];
    for (p, check, value, expected) in cases {
        let v = verdict(p, check, value);
        assert!(!v.allowed, "{check} at {p} allowed");
        assert_eq!(v.implicated, expected, "{check} at {p}: {}", v.message());
    }
}

/// (policy, check, pod, allowed?) for behaviour the fixture corpus does not pin.
#[test]
fn version_specific_behaviour() {
    let userns_root = json!({"spec": {"hostUsers": false, "containers": [
        {"name": "a", "securityContext": {"runAsUser": 0, "procMount": "Unmasked"}}]}});
    let windows = json!({"spec": {"os": {"name": "windows"}, "containers": [{"name": "a"}]}});
    let engine = json!({"spec": {"containers": [
        {"name": "a", "securityContext": {"seLinuxOptions": {"type": "container_engine_t"}}}]}});
    let image_volume = json!({"spec": {"volumes": [{"name": "v", "image": {"reference": "x"}}]}});
    let cases: Vec<(&str, &str, serde_json::Value, bool)> = vec![
        ("restricted:v1.34", "runAsNonRoot", userns_root.clone(), false),
        ("restricted:v1.35", "runAsNonRoot", userns_root.clone(), true),
        ("restricted:v1.34", "runAsUser", userns_root.clone(), false),
        ("restricted:v1.35", "runAsUser", userns_root.clone(), true),
        ("baseline:v1.34", "procMount", userns_root.clone(), false),
        ("baseline:v1.35", "procMount", userns_root.clone(), true),
        ("restricted:v1.35", "procMount_restricted", userns_root, false),
        ("restricted:v1.24", "allowPrivilegeEscalation", windows.clone(), false),
        ("restricted:v1.25", "allowPrivilegeEscalation", windows.clone(), true),
        ("restricted:v1.24", "capabilities_restricted", windows.clone(), false),
        ("restricted:v1.25", "capabilities_restricted", windows.clone(), true),
        ("restricted:v1.24", "seccompProfile_restricted", windows.clone(), false),
        ("restricted:v1.25", "seccompProfile_restricted", windows.clone(), true),
        ("restricted:latest", "runAsNonRoot", windows, false),
        ("baseline:v1.30", "seLinuxOptions", engine.clone(), false),
        ("baseline:v1.31", "seLinuxOptions", engine, true),
        ("restricted:v1.0", "restrictedVolumes", image_volume, true),
        (
            "baseline:v1.26",
            "sysctls",
            json!({"spec": {"securityContext": {"sysctls": [{"name": "net.ipv4.ip_local_reserved_ports"}]}}}),
            false,
        ),
        (
            "baseline:v1.27",
            "sysctls",
            json!({"spec": {"securityContext": {"sysctls": [{"name": "net.ipv4.ip_local_reserved_ports"}]}}}),
            true,
        ),
        (
            "baseline:latest",
            "hostProbesAndHostLifecycle",
            json!({"spec": {"containers": [
                {"name": "a", "readinessProbe": {"httpGet": {"host": "", "port": 1}}}]}}),
            true,
        ),
        (
            "restricted:latest",
            "restrictedVolumes",
            json!({"spec": {"volumes": [{"name": "defaulted-to-emptydir"}]}}),
            true,
        ),
        (
            "restricted:latest",
            "runAsUser",
            json!({"spec": {"securityContext": {"runAsUser": 1000}, "containers": [{"name": "a"}]}}),
            true,
        ),
    ];
    for (p, check, value, allowed) in cases {
        let v = verdict(p, check, value);
        assert_eq!(v.allowed, allowed, "{check} at {p}: {}", v.message());
    }
}
