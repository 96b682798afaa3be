//! Checks on ServiceAccounts (5.1.5), NetworkPolicies and namespaces (5.3.2) and on objects
//! left in the default namespace (5.7.4 / 5.6.4).

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::Value;

use crate::catalog::{CheckResult, ResourceRef};
use crate::inventory::KubeObject;

use super::scope::{Scope, namespace_of};

pub(super) const CHECK_IDS: &[&str] =
    &["TARN-CIS-DEFAULT-SA-AUTOMOUNT", "KSV-0038", "TARN-CIS-NAMESPACE-NETPOL", "TARN-CIS-DEFAULT-NAMESPACE-OBJECTS"];

/// Kinds judged for living in the default namespace. NetworkPolicies, LimitRanges and
/// ResourceQuotas are left out: they protect the namespace rather than use it.
const DEFAULT_NAMESPACE_KINDS: &[&str] = &[
    "Role",
    "RoleBinding",
    "ServiceAccount",
    "Secret",
    "ConfigMap",
    "Service",
    "Ingress",
    "PersistentVolumeClaim",
    "PodDisruptionBudget",
    "HorizontalPodAutoscaler",
];

fn object_ref(o: &KubeObject) -> Arc<ResourceRef> {
    Arc::new(ResourceRef {
        namespace: namespace_of(o).to_string(),
        kind: o.kind.clone(),
        name: o.name.clone(),
        ..ResourceRef::default()
    })
}

pub(super) fn run(scope: &Scope<'_>, out: &mut Vec<CheckResult>) {
    let mut with_policy: BTreeSet<&str> = BTreeSet::new();
    for o in &scope.inv.objects {
        match o.kind.as_str() {
            "ServiceAccount" if o.name == "default" => {
                let failure = match o.raw.get("automountServiceAccountToken").and_then(Value::as_bool) {
                    Some(false) => None,
                    Some(true) => Some("default ServiceAccount sets automountServiceAccountToken=true".to_string()),
                    None => Some(
                        "default ServiceAccount does not set automountServiceAccountToken=false (tokens are mounted by default)"
                            .to_string(),
                    ),
                };
                out.push(CheckResult::new("TARN-CIS-DEFAULT-SA-AUTOMOUNT", &object_ref(o), failure));
            }
            "NetworkPolicy" => {
                with_policy.insert(namespace_of(o));
                let failure = (!has_selector(o.raw.get("spec"))).then(|| {
                    "NetworkPolicy selects no pods or namespaces (no podSelector or namespaceSelector)".to_string()
                });
                out.push(CheckResult::new("KSV-0038", &object_ref(o), failure));
            }
            _ => {}
        }
        if namespace_of(o) == "default" && DEFAULT_NAMESPACE_KINDS.contains(&o.kind.as_str()) && !is_builtin_default(o)
        {
            out.push(CheckResult::new(
                "TARN-CIS-DEFAULT-NAMESPACE-OBJECTS",
                &object_ref(o),
                Some(format!("{} {} is in the default namespace", o.kind, o.name)),
            ));
        }
    }
    for ns in scope.namespaces() {
        let resource = Arc::new(ResourceRef {
            namespace: ns.to_string(),
            kind: "Namespace".to_string(),
            name: ns.to_string(),
            ..ResourceRef::default()
        });
        let failure = (!with_policy.contains(ns)).then(|| format!("namespace {ns} has no NetworkPolicy"));
        out.push(CheckResult::new("TARN-CIS-NAMESPACE-NETPOL", &resource, failure));
    }
}

/// Objects Kubernetes itself puts in `default`.
fn is_builtin_default(o: &KubeObject) -> bool {
    match (o.kind.as_str(), o.name.as_str()) {
        ("ServiceAccount", "default") | ("ConfigMap", "kube-root-ca.crt") | ("Service", "kubernetes") => true,
        ("Secret", _) => {
            let raw = &o.raw;
            raw.get("type").and_then(Value::as_str) == Some("kubernetes.io/service-account-token")
                && raw
                    .get("metadata")
                    .and_then(|m| m.get("annotations"))
                    .and_then(|a| a.get("kubernetes.io/service-account.name"))
                    .and_then(Value::as_str)
                    == Some("default")
        }
        _ => false,
    }
}

/// trivy KSV-0038: a field is "set" unless absent, `null` or `false` (Rego truthiness).
fn set(v: Option<&Value>) -> bool {
    !matches!(v, None | Some(Value::Null) | Some(Value::Bool(false)))
}

fn has_selector(spec: Option<&Value>) -> bool {
    let Some(spec) = spec else { return false };
    let peers = |rules: &str, peer: &str| -> bool {
        spec.get(rules).and_then(Value::as_array).into_iter().flatten().any(|r| {
            r.get(peer)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|p| set(p.get("podSelector")) || set(p.get("namespaceSelector")))
        })
    };
    set(spec.get("podSelector"))
        || set(spec.get("namespaceSelector"))
        || peers("ingress", "from")
        || peers("egress", "to")
}
