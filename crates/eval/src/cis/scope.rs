//! Lookups over an inventory that several checks share: ServiceAccounts, Roles and
//! ClusterRoles by name, the namespaces present, and where a namespaced object lives.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use crate::inventory::{Inventory, KubeObject};

/// Kinds that live in a namespace. A manifest that leaves `metadata.namespace` out lands in
/// `default` when applied, so that is where these are placed; other kinds without a namespace
/// are taken as cluster-scoped.
const NAMESPACED_KINDS: &[&str] = &[
    "Role",
    "RoleBinding",
    "ServiceAccount",
    "NetworkPolicy",
    "Secret",
    "ConfigMap",
    "Service",
    "Endpoints",
    "EndpointSlice",
    "PersistentVolumeClaim",
    "Ingress",
    "LimitRange",
    "ResourceQuota",
    "PodDisruptionBudget",
    "HorizontalPodAutoscaler",
    "Lease",
    "Event",
];

/// The namespace an object lives in; empty for cluster-scoped objects.
pub(super) fn namespace_of(o: &KubeObject) -> &str {
    if o.namespace.is_empty() && NAMESPACED_KINDS.contains(&o.kind.as_str()) { "default" } else { &o.namespace }
}

pub(super) fn labels(raw: &Value) -> Option<&serde_json::Map<String, Value>> {
    raw.get("metadata")?.get("labels")?.as_object()
}

/// Roles and bindings Kubernetes creates itself (`kubernetes.io/bootstrapping: rbac-defaults`
/// with a `system:` name or one of the four user-facing defaults). Judging them would report the
/// platform rather than the cluster's configuration; bindings of user subjects *to* them are
/// still judged.
pub(super) fn is_bootstrap_rbac(o: &KubeObject) -> bool {
    let labelled = labels(&o.raw)
        .and_then(|l| l.get("kubernetes.io/bootstrapping"))
        .and_then(Value::as_str)
        .is_some_and(|v| v == "rbac-defaults");
    labelled && (o.name.starts_with("system:") || ["cluster-admin", "admin", "edit", "view"].contains(&o.name.as_str()))
}

/// Indexes built once per evaluation.
pub(crate) struct Scope<'a> {
    pub inv: &'a Inventory,
    /// (namespace, name) → `automountServiceAccountToken`.
    service_accounts: HashMap<(&'a str, &'a str), Option<bool>>,
    cluster_roles: HashMap<&'a str, &'a KubeObject>,
    roles: HashMap<(&'a str, &'a str), &'a KubeObject>,
}

impl<'a> Scope<'a> {
    pub(super) fn new(inv: &'a Inventory) -> Scope<'a> {
        let mut s =
            Scope { inv, service_accounts: HashMap::new(), cluster_roles: HashMap::new(), roles: HashMap::new() };
        for o in &inv.objects {
            match o.kind.as_str() {
                "ServiceAccount" => {
                    let automount = o.raw.get("automountServiceAccountToken").and_then(Value::as_bool);
                    s.service_accounts.insert((namespace_of(o), o.name.as_str()), automount);
                }
                "ClusterRole" => {
                    s.cluster_roles.insert(o.name.as_str(), o);
                }
                "Role" => {
                    s.roles.insert((namespace_of(o), o.name.as_str()), o);
                }
                _ => {}
            }
        }
        s
    }

    /// `Some(setting)` for a ServiceAccount in the inventory (`Some(None)`: present, unset).
    pub(super) fn service_account_automount(&self, namespace: &str, name: &str) -> Option<bool> {
        self.service_accounts.get(&(namespace, name)).copied().flatten()
    }

    pub(super) fn cluster_role(&self, name: &str) -> Option<&'a KubeObject> {
        self.cluster_roles.get(name).copied()
    }

    pub(super) fn role(&self, namespace: &str, name: &str) -> Option<&'a KubeObject> {
        self.roles.get(&(namespace, name)).copied()
    }

    /// Every namespace that appears: Namespace objects, and the namespaces of workloads and
    /// namespaced objects.
    pub(super) fn namespaces(&self) -> BTreeSet<&'a str> {
        let mut out = BTreeSet::new();
        for o in &self.inv.objects {
            if o.kind == "Namespace" {
                out.insert(o.name.as_str());
            } else {
                let ns = namespace_of(o);
                if !ns.is_empty() {
                    out.insert(ns);
                }
            }
        }
        out.extend(self.inv.workloads.iter().map(|w| w.namespace.as_str()));
        out.remove("");
        out
    }
}
