//! Table-driven tests of the RBAC checks (5.1.x) with hand-made Roles, ClusterRoles and
//! bindings.

use tarn_model::Status;

use super::tests::{failing, inv, outcomes};
use super::*;

const ROLES: &str = r#"
kind: ClusterRole
metadata: {name: secrets-reader}
rules: [{apiGroups: [""], resources: [secrets], verbs: [get, list]}]
---
kind: Role
metadata: {name: ns-secrets, namespace: shop}
rules: [{apiGroups: [""], resources: [secrets], verbs: [watch]}]
---
kind: ClusterRole
metadata: {name: star}
rules: [{apiGroups: ["*"], resources: ["*"], verbs: ["*"]}, {nonResourceURLs: ["*"], verbs: [get]}]
---
kind: ClusterRole
metadata: {name: pod-maker}
rules: [{apiGroups: [""], resources: [pods], verbs: [create]}]
---
kind: ClusterRole
metadata: {name: apps-only}
rules: [{apiGroups: [apps], resources: [pods, deployments], verbs: [create]}]
---
kind: ClusterRole
metadata: {name: any-proxy}
rules: [{apiGroups: [""], resources: ["*/proxy"], verbs: [get]}]
---
kind: ClusterRole
metadata: {name: node-proxy}
rules: [{apiGroups: [""], resources: [nodes/proxy], verbs: [create]}]
---
kind: ClusterRole
metadata: {name: impersonator}
rules: [{apiGroups: [""], resources: [users, groups], verbs: [impersonate]}]
---
kind: ClusterRole
metadata: {name: group-impersonator}
rules: [{apiGroups: ["*"], resources: [groups], verbs: [impersonate]}]
---
kind: ClusterRole
metadata: {name: binder}
rules: [{apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [bind]}]
---
kind: ClusterRole
metadata: {name: csr-approver}
rules: [{apiGroups: [certificates.k8s.io], resources: [certificatesigningrequests/approval], verbs: [update]}]
---
kind: ClusterRole
metadata: {name: webhook-admin}
rules: [{apiGroups: [admissionregistration.k8s.io], resources: [validatingwebhookconfigurations], verbs: [patch]}]
---
kind: ClusterRole
metadata: {name: pv-maker}
rules: [{apiGroups: [""], resources: [persistentvolumes], verbs: [create]}]
---
kind: Role
metadata: {name: token-maker, namespace: shop}
rules: [{apiGroups: [""], resources: [serviceaccounts/token], verbs: [create]}]
---
kind: Role
metadata: {name: ns-admin, namespace: shop}
rules: [{apiGroups: ["*"], resources: ["*"], verbs: [get, list]}]
---
kind: ClusterRole
metadata: {name: deployer}
rules: [{apiGroups: [apps], resources: [deployments], verbs: ["*"]}]
---
kind: ClusterRole
metadata:
  name: system:controller:everything
  labels: {kubernetes.io/bootstrapping: rbac-defaults}
rules: [{apiGroups: ["*"], resources: ["*"], verbs: ["*"]}]
---
kind: ClusterRole
metadata:
  name: looks-official
  labels: {kubernetes.io/bootstrapping: rbac-defaults}
rules: [{apiGroups: ["*"], resources: ["*"], verbs: ["*"]}]
---
kind: ClusterRole
metadata: {name: broken}
rules: oops
"#;

#[test]
fn role_checks_table() {
    let inv = inv(ROLES);
    let cases: &[(&str, &[&str])] = &[
        // trivy's checks compare rule entries literally ...
        ("KSV-0041", &["secrets-reader"]),
        ("KSV-0113", &["ns-secrets"]),
        ("KSV-0044", &["star", "looks-official"]),
        ("KSV-0045", &["deployer"]),
        ("KSV-0046", &["star", "looks-official"]),
        ("KSV-0112", &["ns-admin"]),
        ("KSV-0043", &["group-impersonator"]),
        ("KSV-0047", &["node-proxy"]),
        ("KSV-0114", &["webhook-admin"]),
        // ... Tarn's ask what the API server would allow, wildcards included.
        ("TARN-CIS-RBAC-WILDCARD", &["star", "group-impersonator", "ns-admin", "deployer", "looks-official"]),
        ("TARN-CIS-RBAC-CREATE-PODS", &["star", "pod-maker", "looks-official"]),
        (
            "TARN-CIS-RBAC-BIND-ESCALATE-IMPERSONATE",
            &["star", "impersonator", "group-impersonator", "binder", "looks-official"],
        ),
        ("TARN-CIS-RBAC-SA-TOKEN-CREATE", &["star", "token-maker", "looks-official"]),
        ("TARN-CIS-RBAC-CREATE-PV", &["star", "pv-maker", "looks-official"]),
        ("TARN-CIS-RBAC-NODE-PROXY", &["star", "any-proxy", "node-proxy", "looks-official"]),
        ("TARN-CIS-RBAC-CSR-APPROVAL", &["star", "csr-approver", "looks-official"]),
        ("TARN-CIS-RBAC-WEBHOOK-CONFIG", &["star", "webhook-admin", "looks-official"]),
    ];
    for (check, expect) in cases {
        assert_eq!(failing(&inv, check), *expect, "{check}");
    }
    // Kubernetes' own roles are not judged; a look-alike without a system: name is.
    for (id, _) in cases {
        assert!(!outcomes(&inv, id).iter().any(|o| o.1 == "system:controller:everything"), "{id}");
    }
    // Role-only and ClusterRole-only checks skip the other kind.
    assert!(outcomes(&inv, "KSV-0041").iter().all(|o| o.0 == "ClusterRole"));
    assert!(outcomes(&inv, "TARN-CIS-RBAC-CREATE-PV").iter().all(|o| o.0 == "ClusterRole"));
    assert!(outcomes(&inv, "KSV-0113").iter().all(|o| o.0 == "Role"));
    // Unreadable rules are an error, not a pass.
    let broken: Vec<_> = outcomes(&inv, "TARN-CIS-RBAC-WILDCARD").into_iter().filter(|o| o.1 == "broken").collect();
    assert_eq!(broken[0].3, Status::Error);
}

const BINDINGS: &str = r#"
kind: ClusterRoleBinding
metadata: {name: ops-admins}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: Group, name: ops}, {kind: User, name: alice}]
---
kind: ClusterRoleBinding
metadata: {name: cluster-admin}
roleRef: {kind: ClusterRole, name: cluster-admin}
subjects: [{kind: Group, name: system:masters}]
---
kind: RoleBinding
metadata: {name: ns-god, namespace: shop}
roleRef: {kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: default}]
---
kind: RoleBinding
metadata: {name: reads, namespace: shop}
roleRef: {kind: Role, name: secret-role}
subjects: [{kind: ServiceAccount, name: default, namespace: other}, {kind: Group, name: system:authenticated}]
---
kind: Role
metadata: {name: secret-role, namespace: shop}
rules: [{apiGroups: [""], resources: [secrets], verbs: [list]}]
---
kind: ClusterRoleBinding
metadata: {name: everyone-edits}
roleRef: {kind: ClusterRole, name: edit}
subjects: [{kind: Group, name: system:authenticated}]
---
kind: ClusterRoleBinding
metadata: {name: everyone-views}
roleRef: {kind: ClusterRole, name: view}
subjects: [{kind: Group, name: system:serviceaccounts}]
---
kind: ClusterRoleBinding
metadata: {name: anonymous-mystery}
roleRef: {kind: ClusterRole, name: mystery}
subjects: [{kind: User, name: system:anonymous}]
---
kind: ClusterRoleBinding
metadata:
  name: system:basic-user
  labels: {kubernetes.io/bootstrapping: rbac-defaults}
roleRef: {kind: ClusterRole, name: cluster-admin}
subjects: [{kind: Group, name: system:authenticated}]
"#;

#[test]
fn binding_checks_table() {
    let inv = inv(BINDINGS);
    let cases: &[(&str, &[&str])] = &[
        ("TARN-CIS-CLUSTER-ADMIN-BINDING", &["ops-admins", "ns-god"]),
        ("KSV-0123", &["cluster-admin"]),
        ("TARN-CIS-DEFAULT-SA-BOUND", &["ns-god", "reads"]),
        ("TARN-CIS-AUTHENTICATED-SECRETS", &["reads", "everyone-edits"]),
        ("TARN-CIS-AUTHENTICATED-CREATE-PODS", &["everyone-edits"]),
    ];
    for (check, expect) in cases {
        assert_eq!(failing(&inv, check), *expect, "{check}");
        assert!(!outcomes(&inv, check).iter().any(|o| o.1 == "system:basic-user"), "bootstrap bindings are not judged");
    }
    let mystery =
        outcomes(&inv, "TARN-CIS-AUTHENTICATED-SECRETS").into_iter().find(|o| o.1 == "anonymous-mystery").unwrap();
    assert_eq!(mystery.3, Status::Skip, "a role missing from the inventory cannot be judged");

    let rows = evaluate_cis(CisVersion::V1_10, &inv, &CisContext::default());
    let row =
        |control: &str, name: &str| rows.iter().find(|r| r.control_id == control && r.workload_name == name).unwrap();
    let ns_god = row("5.1.5", "ns-god");
    assert_eq!(
        (ns_god.status, ns_god.namespace.as_str(), ns_god.workload_kind.as_str()),
        (Status::Fail, "shop", "RoleBinding")
    );
    assert_eq!(
        ns_god.message,
        "TARN-CIS-DEFAULT-SA-BOUND: RoleBinding ns-god binds ClusterRole cluster-admin to the default ServiceAccount of namespace shop"
    );
    let reads = row("5.1.5", "reads");
    assert!(reads.message.contains("namespace other"), "{}", reads.message);
    assert_eq!(row("5.1.1", "cluster-admin").status, Status::Pass);
    assert_eq!(row("5.1.7", "cluster-admin").status, Status::Fail);
    let edits = row("5.1.2", "everyone-edits");
    assert_eq!(
        edits.message,
        "TARN-CIS-AUTHENTICATED-SECRETS: ClusterRoleBinding everyone-edits lets Group system:authenticated read secrets through ClusterRole edit"
    );
    assert_eq!(row("5.1.2", "anonymous-mystery").status, Status::Skip);
}

#[test]
fn rules_resolve_like_the_api_server() {
    use super::rbac::Rule;
    let rule = |g: &[&str], r: &[&str], v: &[&str]| Rule {
        api_groups: g.iter().map(|s| s.to_string()).collect(),
        resources: r.iter().map(|s| s.to_string()).collect(),
        verbs: v.iter().map(|s| s.to_string()).collect(),
        non_resource_urls: Vec::new(),
    };
    let cases: &[(Rule, (&str, &str, &str), bool)] = &[
        (rule(&[""], &["pods"], &["create"]), ("", "pods", "create"), true),
        (rule(&[""], &["pods"], &["get"]), ("", "pods", "create"), false),
        (rule(&["apps"], &["pods"], &["create"]), ("", "pods", "create"), false),
        (rule(&["*"], &["pods"], &["*"]), ("", "pods", "create"), true),
        (rule(&[""], &["*"], &["create"]), ("", "pods", "create"), true),
        (rule(&[""], &["*"], &["get"]), ("", "nodes/proxy", "get"), true),
        (rule(&[""], &["*/proxy"], &["get"]), ("", "nodes/proxy", "get"), true),
        (rule(&[""], &["nodes"], &["get"]), ("", "nodes/proxy", "get"), false),
        (rule(&[""], &["*/status"], &["get"]), ("", "nodes/proxy", "get"), false),
        (rule(&[""], &["*/proxy"], &["get"]), ("", "nodes", "get"), false),
    ];
    for (r, (g, res, v), want) in cases {
        assert_eq!(r.grants(g, res, v), *want, "{r:?} {g}/{res} {v}");
    }
}
