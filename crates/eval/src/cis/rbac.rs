//! RBAC checks (5.1.x): what Roles and ClusterRoles grant, and whom bindings grant it to.
//!
//! Two kinds of check sit side by side. The trivy ids (`KSV-0041`, `KSV-0044`, …) keep their
//! upstream condition, which compares rule entries literally. The Tarn ids (`TARN-CIS-RBAC-*`)
//! ask what the API server would allow, so a wildcard (`*`, `*/proxy`) counts as granting.
//! Kubernetes' own bootstrap roles and bindings are not judged (see
//! [`super::scope::is_bootstrap_rbac`]).

use std::sync::Arc;

use serde::{Deserialize, Deserializer};
use serde_json::Value;
use tarn_model::Status;

use crate::catalog::{CheckResult, ResourceRef};
use crate::inventory::KubeObject;

use super::scope::{Scope, is_bootstrap_rbac, namespace_of};

/// One entry of a role's `rules`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(super) struct Rule {
    #[serde(default, deserialize_with = "null_as_default")]
    pub api_groups: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub resources: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub verbs: Vec<String>,
    #[serde(rename = "nonResourceURLs", default, deserialize_with = "null_as_default")]
    pub non_resource_urls: Vec<String>,
}

fn null_as_default<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn has(list: &[String], any_of: &[&str]) -> bool {
    list.iter().any(|x| any_of.contains(&x.as_str()))
}

impl Rule {
    fn new(api_groups: &[&str], resources: &[&str], verbs: &[&str]) -> Rule {
        let own = |l: &[&str]| l.iter().map(|s| s.to_string()).collect();
        Rule {
            api_groups: own(api_groups),
            resources: own(resources),
            verbs: own(verbs),
            non_resource_urls: Vec::new(),
        }
    }

    /// Whether the API server's RBAC authorizer lets this rule do `verb` on `resource` (which
    /// may name a subresource, `nodes/proxy`) in `group`.
    pub(super) fn grants(&self, group: &str, resource: &str, verb: &str) -> bool {
        let subresource = resource.split_once('/').map(|(_, s)| s);
        has(&self.api_groups, &["*", group])
            && has(&self.verbs, &["*", verb])
            && self
                .resources
                .iter()
                .any(|r| r == "*" || r == resource || (subresource.is_some() && r.strip_prefix("*/") == subresource))
    }

    fn describe(&self) -> String {
        let mut parts = vec![
            format!("apiGroups={:?}", self.api_groups),
            format!("resources={:?}", self.resources),
            format!("verbs={:?}", self.verbs),
        ];
        if !self.non_resource_urls.is_empty() {
            parts.push(format!("nonResourceURLs={:?}", self.non_resource_urls));
        }
        format!("rule {{{}}}", parts.join(" "))
    }
}

const ALL_VERBS: &[&str] = &["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"];
const WRITE_VERBS: &[&str] = &["create", "update", "patch", "delete", "deletecollection"];
/// trivy KSV-0041 / KSV-0113.
const MANAGE_SECRET_VERBS: &[&str] =
    &["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "impersonate", "*"];
/// trivy KSV-0046 / KSV-0112.
const MANAGE_ALL_VERBS: &[&str] =
    &["create", "update", "delete", "deletecollection", "impersonate", "*", "list", "get"];
/// trivy KSV-0045.
const ANY_VERB_RESOURCES: &[&str] = &[
    "secrets",
    "pods",
    "deployments",
    "daemonsets",
    "statefulsets",
    "replicationcontrollers",
    "replicasets",
    "cronjobs",
    "jobs",
    "roles",
    "clusterroles",
    "rolebindings",
    "clusterrolebindings",
    "users",
    "groups",
];
const WEBHOOK_CONFIGS: &[&str] = &["mutatingwebhookconfigurations", "validatingwebhookconfigurations"];

/// Which role kinds a check judges.
#[derive(Clone, Copy, PartialEq)]
enum Kinds {
    Both,
    /// ClusterRoles only: trivy's ClusterRole checks, and grants on cluster-scoped resources,
    /// which a Role cannot give.
    ClusterRole,
    Role,
}

type RoleCheck = fn(&Rule) -> bool;

/// Check id, kinds judged, condition on one rule (`true` = the rule is at fault), and what it
/// grants (for the message).
const ROLE_CHECKS: &[(&str, Kinds, RoleCheck, &str)] = &[
    (
        "KSV-0041",
        Kinds::ClusterRole,
        |r| has(&r.resources, &["secrets"]) && has(&r.verbs, MANAGE_SECRET_VERBS),
        "manages secrets",
    ),
    (
        "KSV-0113",
        Kinds::Role,
        |r| has(&r.resources, &["secrets"]) && has(&r.verbs, MANAGE_SECRET_VERBS),
        "manages secrets",
    ),
    (
        "KSV-0044",
        Kinds::Both,
        |r| has(&r.api_groups, &["*"]) && has(&r.resources, &["*"]) && has(&r.verbs, &["*"]),
        "allows any verb on any resource",
    ),
    (
        "KSV-0045",
        Kinds::Both,
        |r| has(&r.resources, ANY_VERB_RESOURCES) && has(&r.verbs, &["*"]),
        "allows any verb on sensitive resources",
    ),
    (
        "KSV-0046",
        Kinds::ClusterRole,
        |r| has(&r.resources, &["*"]) && has(&r.verbs, MANAGE_ALL_VERBS),
        "manages all resources",
    ),
    (
        "KSV-0112",
        Kinds::Role,
        |r| has(&r.resources, &["*"]) && has(&r.verbs, MANAGE_ALL_VERBS),
        "manages all resources of the namespace",
    ),
    (
        "KSV-0043",
        Kinds::Both,
        |r| has(&r.api_groups, &["*"]) && has(&r.resources, &["groups"]) && has(&r.verbs, &["impersonate"]),
        "impersonates groups",
    ),
    (
        "KSV-0047",
        Kinds::Both,
        |r| has(&r.resources, &["nodes/proxy"]) && has(&r.verbs, &["get", "create"]),
        "reaches nodes/proxy",
    ),
    (
        "KSV-0114",
        Kinds::Both,
        |r| {
            has(&r.resources, WEBHOOK_CONFIGS)
                && has(&r.verbs, &["create", "update", "patch", "delete", "deletecollection", "impersonate", "*"])
        },
        "manages webhook configurations",
    ),
    (
        "TARN-CIS-RBAC-WILDCARD",
        Kinds::Both,
        |r| [&r.api_groups, &r.resources, &r.verbs, &r.non_resource_urls].into_iter().any(|l| has(l, &["*"])),
        "uses a wildcard",
    ),
    ("TARN-CIS-RBAC-CREATE-PODS", Kinds::Both, |r| r.grants("", "pods", "create"), "can create pods"),
    (
        "TARN-CIS-RBAC-BIND-ESCALATE-IMPERSONATE",
        Kinds::Both,
        bind_escalate_impersonate,
        "can bind, escalate or impersonate",
    ),
    (
        "TARN-CIS-RBAC-SA-TOKEN-CREATE",
        Kinds::Both,
        |r| r.grants("", "serviceaccounts/token", "create"),
        "can create service account tokens",
    ),
    (
        "TARN-CIS-RBAC-CREATE-PV",
        Kinds::ClusterRole,
        |r| r.grants("", "persistentvolumes", "create"),
        "can create persistent volumes",
    ),
    (
        "TARN-CIS-RBAC-NODE-PROXY",
        Kinds::ClusterRole,
        |r| ALL_VERBS.iter().any(|v| r.grants("", "nodes/proxy", v)),
        "can reach nodes/proxy",
    ),
    (
        "TARN-CIS-RBAC-CSR-APPROVAL",
        Kinds::ClusterRole,
        |r| {
            ["update", "patch"]
                .iter()
                .any(|v| r.grants("certificates.k8s.io", "certificatesigningrequests/approval", v))
        },
        "can approve certificate signing requests",
    ),
    (
        "TARN-CIS-RBAC-WEBHOOK-CONFIG",
        Kinds::ClusterRole,
        |r| {
            WEBHOOK_CONFIGS
                .iter()
                .any(|res| WRITE_VERBS.iter().any(|v| r.grants("admissionregistration.k8s.io", res, v)))
        },
        "can change webhook configurations",
    ),
];

fn bind_escalate_impersonate(r: &Rule) -> bool {
    let rbac = "rbac.authorization.k8s.io";
    ["roles", "clusterroles"].iter().any(|res| r.grants(rbac, res, "bind") || r.grants(rbac, res, "escalate"))
        || ["users", "groups", "serviceaccounts"].iter().any(|res| r.grants("", res, "impersonate"))
        || r.grants("authentication.k8s.io", "uids", "impersonate")
}

/// Subjects that stand for everyone (or every workload) in the cluster.
const BROAD_SUBJECTS: &[(&str, &str)] = &[
    ("Group", "system:authenticated"),
    ("Group", "system:unauthenticated"),
    ("Group", "system:serviceaccounts"),
    ("User", "system:anonymous"),
];

#[derive(Debug, Default, Deserialize)]
struct RoleRef {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    name: String,
}

#[derive(Debug, Default, Deserialize)]
struct Subject {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Binding {
    #[serde(default)]
    role_ref: RoleRef,
    #[serde(default, deserialize_with = "null_as_default")]
    subjects: Vec<Subject>,
}

/// Ids of the role checks.
pub(super) fn role_check_ids() -> impl Iterator<Item = &'static str> {
    ROLE_CHECKS.iter().map(|c| c.0)
}

pub(super) const BINDING_CHECKS: &[&str] = &[
    "TARN-CIS-CLUSTER-ADMIN-BINDING",
    "KSV-0123",
    "TARN-CIS-DEFAULT-SA-BOUND",
    "TARN-CIS-AUTHENTICATED-SECRETS",
    "TARN-CIS-AUTHENTICATED-CREATE-PODS",
];

fn object_ref(o: &KubeObject) -> Arc<ResourceRef> {
    Arc::new(ResourceRef {
        namespace: namespace_of(o).to_string(),
        kind: o.kind.clone(),
        name: o.name.clone(),
        ..ResourceRef::default()
    })
}

pub(super) fn rules_of(o: &KubeObject) -> Result<Vec<Rule>, String> {
    match o.raw.get("rules") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(v) => Vec::<Rule>::deserialize(v).map_err(|e| format!("cannot read rules: {e}")),
    }
}

/// Runs every role and binding check.
pub(super) fn run(scope: &Scope<'_>, out: &mut Vec<CheckResult>) {
    for o in &scope.inv.objects {
        let is_cluster_role = match o.kind.as_str() {
            "ClusterRole" => true,
            "Role" => false,
            "RoleBinding" | "ClusterRoleBinding" => {
                if !is_bootstrap_rbac(o) {
                    bindings(scope, o, out);
                }
                continue;
            }
            _ => continue,
        };
        if is_bootstrap_rbac(o) {
            continue;
        }
        let resource = object_ref(o);
        let rules = rules_of(o);
        for (id, kinds, bad, what) in ROLE_CHECKS {
            let applies = match kinds {
                Kinds::Both => true,
                Kinds::ClusterRole => is_cluster_role,
                Kinds::Role => !is_cluster_role,
            };
            if !applies {
                continue;
            }
            out.push(match &rules {
                Err(e) => CheckResult::with_status(id, &resource, Status::Error, e.clone()),
                Ok(rules) => {
                    let at_fault: Vec<String> = rules.iter().filter(|r| bad(r)).map(Rule::describe).collect();
                    let failure = (!at_fault.is_empty())
                        .then(|| format!("{} {} {what}: {}", o.kind, o.name, at_fault.join(", ")));
                    CheckResult::new(id, &resource, failure)
                }
            });
        }
    }
}

fn bindings(scope: &Scope<'_>, o: &KubeObject, out: &mut Vec<CheckResult>) {
    let resource = object_ref(o);
    let b = match Binding::deserialize(&o.raw) {
        Ok(b) => b,
        Err(e) => {
            for id in BINDING_CHECKS {
                out.push(CheckResult::with_status(id, &resource, Status::Error, format!("cannot read binding: {e}")));
            }
            return;
        }
    };
    let ns = namespace_of(o);
    let role = format!("{} {}", b.role_ref.kind, b.role_ref.name);
    let named = |pred: &dyn Fn(&Subject) -> bool| -> Vec<String> {
        b.subjects.iter().filter(|s| pred(s)).map(|s| format!("{} {}", s.kind, s.name)).collect()
    };

    let cluster_admin = b.role_ref.kind == "ClusterRole" && b.role_ref.name == "cluster-admin"
        // kube-bench's exception: the built-in binding of system:masters.
        && !(o.kind == "ClusterRoleBinding" && o.name == "cluster-admin");
    let subjects = named(&|_| true);
    out.push(CheckResult::new(
        "TARN-CIS-CLUSTER-ADMIN-BINDING",
        &resource,
        cluster_admin.then(|| format!("{} {} binds ClusterRole cluster-admin to {}", o.kind, o.name, list(&subjects))),
    ));

    let masters = named(&|s| s.name == "system:masters");
    out.push(CheckResult::new(
        "KSV-0123",
        &resource,
        (!masters.is_empty()).then(|| format!("{} {} binds {role} to the system:masters group", o.kind, o.name)),
    ));

    let default_sa: Vec<String> = b
        .subjects
        .iter()
        .filter(|s| s.kind == "ServiceAccount" && s.name == "default")
        .map(|s| s.namespace.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| ns.to_string()))
        .collect();
    out.push(CheckResult::new(
        "TARN-CIS-DEFAULT-SA-BOUND",
        &resource,
        (!default_sa.is_empty()).then(|| {
            format!(
                "{} {} binds {role} to the default ServiceAccount of namespace {}",
                o.kind,
                o.name,
                list(&default_sa)
            )
        }),
    ));

    let broad = named(&|s| BROAD_SUBJECTS.contains(&(s.kind.as_str(), s.name.as_str())));
    let grants: Option<Result<Vec<Rule>, String>> = (!broad.is_empty()).then(|| resolve(scope, &b.role_ref, ns));
    for (id, what, probe) in [
        (
            "TARN-CIS-AUTHENTICATED-SECRETS",
            "read secrets",
            &(|r: &Rule| ["get", "list", "watch"].iter().any(|v| r.grants("", "secrets", v))) as &dyn Fn(&Rule) -> bool,
        ),
        ("TARN-CIS-AUTHENTICATED-CREATE-PODS", "create pods", &|r: &Rule| r.grants("", "pods", "create")),
    ] {
        out.push(match &grants {
            None => CheckResult::new(id, &resource, None),
            Some(Err(why)) => CheckResult::with_status(id, &resource, Status::Skip, why.clone()),
            Some(Ok(rules)) => CheckResult::new(
                id,
                &resource,
                rules
                    .iter()
                    .any(probe)
                    .then(|| format!("{} {} lets {} {what} through {role}", o.kind, o.name, list(&broad))),
            ),
        });
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() { "no subjects".to_string() } else { items.join(", ") }
}

/// The rules a binding's roleRef grants: the role from the inventory, else Kubernetes' default
/// for the four user-facing ClusterRoles.
fn resolve(scope: &Scope<'_>, role_ref: &RoleRef, namespace: &str) -> Result<Vec<Rule>, String> {
    let found = match role_ref.kind.as_str() {
        "ClusterRole" => scope.cluster_role(&role_ref.name),
        "Role" => scope.role(namespace, &role_ref.name),
        other => return Err(format!("unknown roleRef kind {other:?}")),
    };
    if let Some(role) = found {
        return rules_of(role);
    }
    let read = &["get", "list", "watch"];
    let write = &["create", "update", "patch", "delete"];
    match (role_ref.kind.as_str(), role_ref.name.as_str()) {
        ("ClusterRole", "cluster-admin") => Ok(vec![Rule::new(&["*"], &["*"], &["*"])]),
        ("ClusterRole", "admin" | "edit") => {
            Ok(vec![Rule::new(&[""], &["secrets", "pods"], read), Rule::new(&[""], &["secrets", "pods"], write)])
        }
        ("ClusterRole", "view") => Ok(vec![Rule::new(&[""], &["pods"], read)]),
        (kind, name) => Err(format!("{kind} {name} is not in the inventory; cannot tell what it grants")),
    }
}
