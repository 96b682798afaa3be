//! Catalog completeness against kube-bench, and table-driven tests of the workload, namespace,
//! service-account and secret checks with hand-made inventories. RBAC checks are in
//! `tests_rbac.rs`; the trivy good/bad examples in `tests/it/cis_conformance.rs`.

use std::collections::BTreeSet;
use std::path::Path;

use tarn_model::Status;

use super::*;
use crate::inventory::read_sources;

pub(super) fn inv(yaml: &str) -> Inventory {
    let inv = read_sources([("t.yaml", yaml.as_bytes())]);
    assert!(inv.problems.is_empty(), "{:?}", inv.problems);
    inv
}

/// `(kind, name, container, status)` of every result of `check`.
pub(super) fn outcomes(inv: &Inventory, check: &str) -> Vec<(String, String, String, Status)> {
    run_checks(inv, &CisContext::default())
        .into_iter()
        .filter(|r| r.check_id == check)
        .map(|r| (r.resource.kind.clone(), r.resource.name.clone(), r.resource.container.clone(), r.status))
        .collect()
}

/// Names (`name` or `name/container`) that fail `check`.
pub(super) fn failing(inv: &Inventory, check: &str) -> Vec<String> {
    outcomes(inv, check)
        .into_iter()
        .filter(|o| o.3 == Status::Fail)
        .map(|(_, name, c, _)| if c.is_empty() { name } else { format!("{name}/{c}") })
        .collect()
}

fn kube_bench_controls(version: CisVersion) -> Vec<(String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../../fixtures/kube-bench/cfg/cis-{}/policies.yaml", version.as_str()));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    let mut out = Vec::new();
    for g in doc["groups"].as_sequence().unwrap() {
        for c in g["checks"].as_sequence().unwrap() {
            let id = match &c["id"] {
                serde_yaml_ng::Value::String(s) => s.clone(),
                other => panic!("unexpected id {other:?}"),
            };
            out.push((id, c["text"].as_str().unwrap().to_string()));
        }
    }
    out
}

#[test]
fn catalogs_have_every_kube_bench_control_in_order() {
    for v in CisVersion::ALL {
        let catalog = v.catalog();
        assert_eq!(catalog.spec.version, v.as_str());
        assert_eq!(catalog.spec.id, format!("k8s-cis-{v}"));
        let ours: Vec<(String, String)> =
            catalog.spec.controls.iter().map(|c| (c.id.clone(), c.name.clone())).collect();
        assert_eq!(ours, kube_bench_controls(v), "cis {v}");
    }
}

#[test]
fn every_catalog_check_is_implemented_and_every_check_is_used() {
    let implemented: BTreeSet<&str> = check_ids().into_iter().collect();
    let mut used = BTreeSet::new();
    for v in CisVersion::ALL {
        for id in v.catalog().check_ids() {
            assert!(implemented.contains(id), "cis {v}: {id} has no implementation");
            used.insert(id.to_string());
        }
    }
    for id in &implemented {
        assert!(used.contains(*id), "{id} is implemented but no catalog maps it");
    }
}

/// The automated/manual split, per version (documented in `reports/catalogs/README.md`).
#[test]
fn manual_controls_per_version() {
    let manual = |v: CisVersion| -> Vec<&str> {
        v.catalog().spec.controls.iter().filter(|c| c.is_manual()).map(|c| c.id.as_str()).collect()
    };
    assert_eq!(manual(CisVersion::V1_9), ["5.2.1", "5.3.1", "5.4.2", "5.7.1"]);
    assert_eq!(manual(CisVersion::V1_10), ["5.2.1", "5.3.1", "5.4.2", "5.7.1"]);
    assert_eq!(manual(CisVersion::V1_11), ["5.2.1", "5.3.1", "5.4.2", "5.6.1"]);
    assert_eq!(manual(CisVersion::V1_12), ["5.2.1", "5.3.1", "5.4.2", "5.6.1"]);
    let c = CisVersion::V1_12.catalog();
    // 1.12 dropped "added capabilities"; its 5.2.9 is "capabilities assigned".
    assert_eq!(c.control("5.2.9").unwrap().checks[0].id, "KSV-0003");
    assert_eq!(CisVersion::V1_11.catalog().control("5.2.9").unwrap().checks[0].id, "KSV-0022");
    assert_eq!(c.control("5.6.4").unwrap().checks[0].id, "KSV-0110");
}

#[test]
fn versions_parse() {
    for (s, v) in [
        ("1.9", CisVersion::V1_9),
        ("1.10", CisVersion::V1_10),
        ("1.11", CisVersion::V1_11),
        ("1.12", CisVersion::V1_12),
        ("latest", CisVersion::V1_12),
        (" 1.10 ", CisVersion::V1_10),
    ] {
        assert_eq!(s.parse::<CisVersion>().unwrap(), v, "{s}");
    }
    for bad in ["", "1.8", "1.1", "v1.10", "1.23", "cis-1.10"] {
        let e = bad.parse::<CisVersion>().unwrap_err();
        assert!(e.to_string().contains("expected 1.9, 1.10, 1.11, 1.12 or latest"), "{e}");
    }
}

const POD: &str = r#"
kind: Pod
metadata: {name: web, namespace: shop}
spec:
  automountServiceAccountToken: false
  securityContext: {runAsNonRoot: true, runAsUser: 20000, runAsGroup: 20000, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: app
    image: nginx
    securityContext:
      allowPrivilegeEscalation: false
      capabilities: {drop: [ALL]}
"#;

/// A hardened pod passes every workload check; each edit makes exactly the named containers
/// fail the named check.
#[test]
fn workload_checks_table() {
    let hardened = inv(POD);
    for (id, _) in workload::CHECKS {
        assert_eq!(failing(&hardened, id), Vec::<String>::new(), "{id}");
    }
    const AUTOMOUNT: &str = "  automountServiceAccountToken: false\n";
    const CONTAINER_SC: &str =
        "    securityContext:\n      allowPrivilegeEscalation: false\n      capabilities: {drop: [ALL]}\n";
    const IMAGE: &str = "    image: nginx\n";
    const CONTAINERS: &str = "  containers:\n";
    // (text to replace, replacement, check, failing)
    let cases: &[(&str, &str, &str, &[&str])] = &[
        (
            CONTAINER_SC,
            "    securityContext: {privileged: true, allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}\n",
            "KSV-0017",
            &["web/app"],
        ),
        (CONTAINER_SC, "", "KSV-0001", &["web/app"]),
        (CONTAINER_SC, "", "KSV-0003", &["web/app"]),
        (CONTAINER_SC, "", "TARN-CIS-NET-RAW", &["web/app"]),
        (CONTAINERS, "  hostPID: true\n  containers:\n", "KSV-0010", &["web/app"]),
        (CONTAINERS, "  hostIPC: true\n  containers:\n", "KSV-0008", &["web/app"]),
        (CONTAINERS, "  hostNetwork: true\n  containers:\n", "KSV-0009", &["web/app"]),
        (CONTAINERS, "  volumes: [{name: root, hostPath: {path: /}}]\n  containers:\n", "KSV-0023", &["web/app"]),
        (
            "seccompProfile: {type: RuntimeDefault}}",
            "seccompProfile: {type: RuntimeDefault}, windowsOptions: {hostProcess: true}}",
            "KSV-0103",
            &["web/app"],
        ),
        (IMAGE, "    image: nginx\n    ports: [{containerPort: 80, hostPort: 80}]\n", "KSV-0024", &["web/app"]),
        (IMAGE, "    image: nginx\n    ports: [{containerPort: 80, hostPort: 0}]\n", "KSV-0024", &[]),
        (AUTOMOUNT, "  automountServiceAccountToken: true\n", "KSV-0036", &["web/app"]),
        (AUTOMOUNT, "  automountServiceAccountToken: true\n", "TARN-CIS-SA-TOKEN-AUTOMOUNT", &["web/app"]),
        (AUTOMOUNT, "", "TARN-CIS-SA-TOKEN-AUTOMOUNT", &["web/app"]),
        (AUTOMOUNT, "", "KSV-0036", &[]),
        ("namespace: shop", "namespace: default", "KSV-0110", &["web/app"]),
        (
            IMAGE,
            "    image: nginx\n    env: [{name: PW, valueFrom: {secretKeyRef: {name: db, key: pw}}}]\n",
            "TARN-CIS-SECRET-ENV",
            &["web/app"],
        ),
        (IMAGE, "    image: nginx\n    envFrom: [{secretRef: {name: db}}]\n", "TARN-CIS-SECRET-ENV", &["web/app"]),
        (IMAGE, "    image: nginx\n    envFrom: [{configMapRef: {name: cfg}}]\n", "TARN-CIS-SECRET-ENV", &[]),
        (
            IMAGE,
            "    image: nginx\n    env: [{name: A, value: b}, {name: C, valueFrom: {configMapKeyRef: {name: x, key: y}}}]\n",
            "TARN-CIS-SECRET-ENV",
            &[],
        ),
        (
            "{drop: [ALL]}\n",
            "{drop: [ALL]}\n  - {name: side, image: envoy, securityContext: {capabilities: {add: [SYS_ADMIN]}}}\n",
            "KSV-0005",
            &["web/side"],
        ),
        ("runAsGroup: 20000", "runAsGroup: 10000", "KSV-0021", &["web/app"]),
        ("runAsUser: 20000", "runAsUser: 0", "KSV-0105", &["web/app"]),
        ("seccompProfile: {type: RuntimeDefault}", "seLinuxOptions: {type: spc_t}", "KSV-0025", &["web/app"]),
    ];
    for (from, to, check, expect) in cases {
        assert!(POD.contains(from), "{from:?}");
        let yaml = POD.replacen(from, to, 1);
        assert_eq!(failing(&inv(&yaml), check), *expect, "{check} after {from:?} -> {to:?}");
    }
}

#[test]
fn container_settings_override_the_pod() {
    let yaml = r#"
kind: Deployment
metadata: {name: d, namespace: shop}
spec:
  template:
    spec:
      securityContext: {runAsNonRoot: true, runAsUser: 0}
      initContainers:
      - {name: init, image: busybox, securityContext: {runAsUser: 20000}}
      containers:
      - {name: root, image: busybox, securityContext: {runAsNonRoot: false}}
      - {name: ok, image: busybox, securityContext: {runAsUser: 30000, capabilities: {add: [net_raw], drop: [all]}}}
"#;
    let inv = inv(yaml);
    assert_eq!(failing(&inv, "KSV-0012"), ["d/root"]);
    assert_eq!(failing(&inv, "KSV-0105"), ["d/root"]);
    assert_eq!(failing(&inv, "KSV-0020"), ["d/root"]);
    assert_eq!(failing(&inv, "KSV-0003"), ["d/init", "d/root"]);
    assert_eq!(failing(&inv, "KSV-0119"), ["d/ok"], "capability names compare case-insensitively");
    assert_eq!(failing(&inv, "TARN-CIS-NET-RAW"), ["d/init", "d/root"]);
    assert_eq!(failing(&inv, "KSV-0022"), ["d/ok"]);
}

#[test]
fn seccomp_checks() {
    let pod = |spec: &str, annotations: &str| {
        inv(&format!(
            "kind: Pod\nmetadata: {{name: p, namespace: x, annotations: {{{annotations}}}}}\nspec:\n{spec}\n  containers:\n  - {{name: a, image: i}}\n  - {{name: b, image: i, securityContext: {{seccompProfile: {{type: Unconfined}}}}}}\n"
        ))
    };
    let runtime_default = pod("  securityContext: {seccompProfile: {type: RuntimeDefault}}", "");
    assert_eq!(failing(&runtime_default, "KSV-0104"), ["p/b"]);
    assert_eq!(failing(&runtime_default, "KSV-0030"), ["p/b"]);
    let unset = pod("  restartPolicy: Always", "");
    assert_eq!(failing(&unset, "KSV-0104"), ["p/a", "p/b"]);
    let annotated = pod("  restartPolicy: Always", "container.seccomp.security.alpha.kubernetes.io/a: runtime/default");
    assert_eq!(failing(&annotated, "KSV-0104"), ["p/b"]);
    let pod_annotation = pod("  restartPolicy: Always", "seccomp.security.alpha.kubernetes.io/pod: runtime/default");
    assert_eq!(failing(&pod_annotation, "KSV-0030"), Vec::<String>::new());
}

#[test]
fn service_account_tokens_follow_pod_then_service_account() {
    let yaml = r#"
kind: ServiceAccount
metadata: {name: quiet, namespace: shop}
automountServiceAccountToken: false
---
kind: ServiceAccount
metadata: {name: default, namespace: shop}
---
kind: ServiceAccount
metadata: {name: chatty, namespace: shop}
automountServiceAccountToken: true
---
kind: Pod
metadata: {name: uses-quiet, namespace: shop}
spec: {serviceAccountName: quiet, containers: [{name: c, image: i}]}
---
kind: Pod
metadata: {name: uses-default, namespace: shop}
spec: {containers: [{name: c, image: i}]}
---
kind: Pod
metadata: {name: opts-out, namespace: shop}
spec: {serviceAccountName: chatty, automountServiceAccountToken: false, containers: [{name: c, image: i}]}
---
kind: Pod
metadata: {name: deprecated-field, namespace: shop}
spec: {serviceAccount: quiet, containers: [{name: c, image: i}]}
---
kind: Pod
metadata: {name: unknown-sa, namespace: other}
spec: {serviceAccountName: quiet, containers: [{name: c, image: i}]}
---
kind: Pod
metadata: {name: explicit-mount, namespace: shop}
spec:
  serviceAccountName: quiet
  containers: [{name: c, image: i, volumeMounts: [{name: t, mountPath: /var/run/secrets/kubernetes.io/serviceaccount}]}]
"#;
    let inv = inv(yaml);
    assert_eq!(failing(&inv, "TARN-CIS-SA-TOKEN-AUTOMOUNT"), ["uses-default/c", "unknown-sa/c"]);
    assert_eq!(failing(&inv, "KSV-0036"), ["explicit-mount/c"]);
    assert_eq!(failing(&inv, "TARN-CIS-DEFAULT-SA-AUTOMOUNT"), ["default"]);
    assert_eq!(outcomes(&inv, "TARN-CIS-DEFAULT-SA-AUTOMOUNT").len(), 1, "only default ServiceAccounts are judged");
}

#[test]
fn every_namespace_needs_a_network_policy() {
    let yaml = r#"
kind: Namespace
metadata: {name: empty}
---
kind: Namespace
metadata: {name: shop}
---
kind: NetworkPolicy
metadata: {name: deny-all, namespace: shop}
spec: {podSelector: {}, policyTypes: [Ingress]}
---
kind: NetworkPolicy
metadata: {name: no-selector, namespace: shop}
spec: {policyTypes: [Ingress]}
---
kind: NetworkPolicy
metadata: {name: peer-selector, namespace: shop}
spec: {ingress: [{from: [{namespaceSelector: {matchLabels: {team: a}}}]}]}
---
kind: Pod
metadata: {name: p, namespace: dev}
spec: {containers: [{name: c, image: i}]}
---
kind: ConfigMap
metadata: {name: cm}
"#;
    let inv = inv(yaml);
    assert_eq!(failing(&inv, "TARN-CIS-NAMESPACE-NETPOL"), ["default", "dev", "empty"]);
    let judged: Vec<String> = outcomes(&inv, "TARN-CIS-NAMESPACE-NETPOL").into_iter().map(|o| o.1).collect();
    assert_eq!(judged, ["default", "dev", "empty", "shop"]);
    assert_eq!(failing(&inv, "KSV-0038"), ["no-selector"]);
    let rows = evaluate_cis(CisVersion::V1_12, &inv, &CisContext::default());
    let dev = rows.iter().find(|r| r.control_id == "5.3.2" && r.workload_name == "dev").unwrap();
    assert_eq!((dev.namespace.as_str(), dev.workload_kind.as_str(), dev.container.as_str()), ("dev", "Namespace", ""));
    assert_eq!(dev.message, "TARN-CIS-NAMESPACE-NETPOL: namespace dev has no NetworkPolicy");
}

#[test]
fn the_default_namespace_holds_only_what_kubernetes_puts_there() {
    let yaml = r#"
kind: ServiceAccount
metadata: {name: default, namespace: default}
---
kind: ConfigMap
metadata: {name: kube-root-ca.crt, namespace: default}
---
kind: Service
metadata: {name: kubernetes, namespace: default}
---
kind: NetworkPolicy
metadata: {name: deny-all, namespace: default}
spec: {podSelector: {}}
---
kind: Secret
metadata: {name: app-creds}
type: Opaque
data: {password: aHVudGVyMg==}
---
kind: Role
metadata: {name: r, namespace: shop}
---
kind: Deployment
metadata: {name: web}
spec: {template: {spec: {containers: [{name: c, image: i}]}}}
"#;
    let inv = inv(yaml);
    assert_eq!(failing(&inv, "TARN-CIS-DEFAULT-NAMESPACE-OBJECTS"), ["app-creds"]);
    assert_eq!(failing(&inv, "KSV-0110"), ["web/c"]);
    let rows = evaluate_cis(CisVersion::V1_10, &inv, &CisContext::default());
    let failing_rows: Vec<(&str, &str)> = rows
        .iter()
        .filter(|r| r.control_id == "5.7.4" && r.status == Status::Fail)
        .map(|r| (r.workload_kind.as_str(), r.workload_name.as_str()))
        .collect();
    assert_eq!(failing_rows, [("Deployment", "web"), ("Secret", "app-creds")]);
}

#[test]
fn image_provenance_comes_from_the_hook() {
    let yaml = "kind: Pod\nmetadata: {name: p, namespace: x}\nspec:\n  containers:\n  - {name: signed, image: reg/signed@sha256:0000000000000000000000000000000000000000000000000000000000000000}\n  - {name: unsigned, image: reg/unsigned:1}\n  - {name: unknown, image: reg/unknown:1}\n";
    let inv = inv(yaml);
    let without = evaluate_cis(CisVersion::V1_12, &inv, &CisContext::default());
    let p: Vec<_> = without.iter().filter(|r| r.control_id == "5.5.1").collect();
    assert_eq!(p.len(), 1);
    assert_eq!(
        (p[0].status, p[0].message.as_str(), p[0].workload_name.as_str()),
        (Status::Skip, "manual: no image evidence configured", "")
    );

    let hook = |_: &Workload, c: &Container| match c.name.as_str() {
        "signed" => Some((true, String::new())),
        "unsigned" => Some((false, "no signature verifies".to_string())),
        _ => None,
    };
    let ctx = CisContext { image_provenance: Some(&hook) };
    let with = evaluate_cis(CisVersion::V1_12, &inv, &ctx);
    let got: Vec<(&str, Status, &str, &str)> = with
        .iter()
        .filter(|r| r.control_id == "5.5.1")
        .map(|r| (r.container.as_str(), r.status, r.message.as_str(), r.image_digest.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("signed", Status::Pass, "", "sha256:0000000000000000000000000000000000000000000000000000000000000000"),
            ("unknown", Status::Skip, "no image evidence for reg/unknown:1", ""),
            ("unsigned", Status::Fail, "TARN-IMG-PROVENANCE: no signature verifies", ""),
        ]
    );
    assert!(format!("{ctx:?}").contains("<hook>"));
}

#[test]
fn rows_cover_every_control_with_catalog_severity() {
    let inv = inv(POD);
    for v in CisVersion::ALL {
        let rows = evaluate_cis(v, &inv, &CisContext::default());
        let catalog = v.catalog();
        let ids: BTreeSet<&str> = rows.iter().map(|r| r.control_id.as_str()).collect();
        assert_eq!(ids.len(), catalog.spec.controls.len(), "cis {v}");
        for r in &rows {
            let c = catalog.control(&r.control_id).unwrap();
            assert_eq!(r.severity, c.severity.into());
            assert_eq!((r.framework.as_str(), r.framework_version.as_str()), ("cis-k8s", v.as_str()));
            if c.is_manual() {
                assert_eq!(r.status, Status::Skip);
                assert!(r.message.starts_with("manual: "), "{}", r.message);
            }
        }
        // Workload controls: one row per container.
        let priv_id = if v == CisVersion::V1_12 { "5.2.11" } else { "5.2.12" };
        let hostpath: Vec<_> = rows.iter().filter(|r| r.control_id == priv_id).collect();
        assert_eq!(hostpath.len(), 1);
        assert_eq!(
            (hostpath[0].workload_name.as_str(), hostpath[0].container.as_str(), hostpath[0].status),
            ("web", "app", Status::Pass)
        );
    }
}
