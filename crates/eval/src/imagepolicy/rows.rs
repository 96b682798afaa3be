//! Image-policy verdicts as evaluation rows.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;
use tarn_model::{EvaluationRow, Severity};

use super::evaluate::{PolicyVerdict, Resource};
use super::set::{ImagePolicySet, NO_MATCH_CONTROL};
use super::verifier::SignatureVerifier;
use crate::inventory::{Inventory, Workload, digest_of};

/// Framework name of image-policy rows.
pub const IMAGE_POLICY_FRAMEWORK: &str = "image-policy";

fn labels_of(w: &Workload) -> BTreeMap<String, String> {
    match w.raw.pointer("/metadata/labels") {
        Some(Value::Object(m)) => m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect(),
        _ => BTreeMap::new(),
    }
}

/// One row per (workload, container, matching policy), framework `image-policy`, framework
/// version the policy set's short digest, control id the policy name. A container no policy
/// matches gets one `no-matching-policy` row unless `no-match-policy` is `allow`. An empty
/// policy set gives no rows. Containers without an image are skipped.
pub fn evaluate_image_policies(
    set: &ImagePolicySet,
    inv: &Inventory,
    verifier: &dyn SignatureVerifier,
) -> Vec<EvaluationRow> {
    let mut rows = Vec::new();
    if set.is_empty() {
        return rows;
    }
    let version = set.version();
    // Verdicts that do not depend on the resource, shared by workloads running the same image.
    let mut cache: HashMap<(String, String, Option<String>), PolicyVerdict> = HashMap::new();
    for w in &inv.workloads {
        let labels = labels_of(w);
        let api_version = w.raw.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let resource = Resource {
            kind: &w.kind,
            api_version,
            namespace: &w.namespace,
            name: &w.name,
            labels: &labels,
            object: Some(&w.raw),
        };
        for c in w.template.spec.all_containers() {
            let Some(image) = c.image.as_deref().filter(|i| !i.is_empty()) else { continue };
            let digest = w.image_digests.get(&c.name).cloned().or_else(|| digest_of(image));
            let mut verdicts = Vec::new();
            for p in set.matching(image, &resource) {
                let includes = p.policy.spec.policy.as_ref().is_some_and(|q| {
                    q.include_spec == Some(true)
                        || q.include_object_meta == Some(true)
                        || q.include_type_meta == Some(true)
                });
                let key = (p.name().to_string(), image.to_string(), digest.clone());
                let v = match cache.get(&key) {
                    Some(v) if !includes => v.clone(),
                    _ => {
                        let v = p.evaluate(image, digest.as_deref(), &resource, verifier);
                        if !includes {
                            cache.insert(key, v.clone());
                        }
                        v
                    }
                };
                verdicts.push(v);
            }
            if verdicts.is_empty() {
                verdicts.extend(set.no_match_verdict(image));
            }
            for v in verdicts {
                let severity = if v.policy == NO_MATCH_CONTROL { Severity::Medium } else { Severity::High };
                rows.push(EvaluationRow {
                    namespace: w.namespace.clone(),
                    workload_kind: w.kind.clone(),
                    workload_name: w.name.clone(),
                    container: c.name.clone(),
                    image: image.to_string(),
                    image_digest: digest.clone().unwrap_or_default(),
                    framework: IMAGE_POLICY_FRAMEWORK.to_string(),
                    framework_version: version.clone(),
                    control_id: v.policy,
                    status: v.status,
                    severity,
                    message: v.message,
                });
            }
        }
    }
    rows
}
