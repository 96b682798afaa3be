//! Everything a scan judges besides the built-in frameworks, loaded from a policy directory,
//! and the one function that evaluates an inventory against all of it.
//!
//! A policy directory may hold, in any layout:
//! - `ClusterImagePolicy` documents (plus the `config-policy-controller` ConfigMap, ConfigMaps
//!   that policies reference, and `TrustRoot`s) → framework `image-policy`;
//! - `*.rego` modules (`package tarn.custom.<name>`) → framework `custom`;
//! - one `SlsaPolicy` document (`apiVersion: tarn.dev/v1alpha1`) → framework `slsa`.
//!
//! ```yaml
//! apiVersion: tarn.dev/v1alpha1
//! kind: SlsaPolicy
//! metadata: {name: production}
//! spec:
//!   minLevel: 3
//!   trustedBuilders: ["https://github.com/slsa-framework/slsa-github-generator/*"]
//!   sourceRepositories: ["github.com/acme/*"]
//!   branches: [main]
//!   tags: ["v*"]
//! ```
//!
//! Bad files are reported (file, document, field) and skipped; the rest is used.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tarn_model::{EvaluationRow, Status};
use tarn_trust::sigstore::TrustedRoot;

use crate::cis::CisContext;
use crate::evidence::{EvidenceKind, EvidenceSet, EvidenceVerifier};
use crate::frameworks::{self, Framework};
use crate::imagepolicy::{self, ImagePolicySet, RegoPolicy};
use crate::inventory::Inventory;
use crate::slsa::{self, ProvenanceDocument, ProvenanceKind, ProvenanceSource, SlsaPolicy};

/// Policies read from files.
#[derive(Debug, Default)]
pub struct PolicyBundle {
    /// `None` when no `ClusterImagePolicy` was found.
    pub image_policies: Option<ImagePolicySet>,
    pub custom: Vec<RegoPolicy>,
    pub slsa: Option<SlsaPolicy>,
    /// Why the directory's SlsaPolicy could not be used; SLSA is then not judged (`error`)
    /// rather than judged by a weaker default.
    pub slsa_invalid: Option<String>,
    /// ClusterImagePolicies that were rejected: `(name or file, reason)`. They are reported
    /// as `error` rows, never silently dropped.
    pub rejected_image_policies: Vec<(String, String)>,
    /// Files or documents that could not be used (and were skipped).
    pub problems: Vec<String>,
    /// `sha256:<hex>` over every file's name and content.
    pub digest: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SlsaPolicySpec {
    #[serde(default)]
    min_level: Option<u8>,
    #[serde(default)]
    trusted_builders: Option<Vec<String>>,
    #[serde(default)]
    l3_builders: Option<Vec<String>>,
    #[serde(default)]
    source_repositories: Vec<String>,
    #[serde(default)]
    branches: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    versioned_tag: Option<String>,
}

fn slsa_policy(doc: &Value) -> Result<SlsaPolicy, String> {
    let spec = doc.get("spec").cloned().unwrap_or(Value::Object(Default::default()));
    let s: SlsaPolicySpec =
        serde_path_to_error::deserialize(spec).map_err(|e| format!("spec.{}: {}", e.path(), e.inner()))?;
    let d = SlsaPolicy::default();
    let min_level = s.min_level.unwrap_or(d.min_level);
    if !(1..=3).contains(&min_level) {
        return Err(format!(
            "spec.minLevel: {min_level} is not a required SLSA build level (1-3; 0 would accept images without provenance)"
        ));
    }
    Ok(SlsaPolicy {
        trusted_builders: s.trusted_builders.unwrap_or(d.trusted_builders),
        l3_builders: s.l3_builders.unwrap_or(d.l3_builders),
        source_repositories: s.source_repositories,
        branches: s.branches,
        tags: s.tags,
        versioned_tag: s.versioned_tag,
        min_level,
    })
}

impl PolicyBundle {
    /// Reads policy files given as `(name, content)`.
    pub fn from_files(files: &[(String, Vec<u8>)]) -> Self {
        let mut b = PolicyBundle::default();
        let mut h = Sha256::new();
        let mut yaml: Vec<(&str, &[u8])> = Vec::new();
        for (name, bytes) in files {
            h.update((name.len() as u64).to_le_bytes());
            h.update(name.as_bytes());
            h.update((bytes.len() as u64).to_le_bytes());
            h.update(bytes);
            if name.ends_with(".rego") {
                match std::str::from_utf8(bytes)
                    .map_err(|e| e.to_string())
                    .and_then(|m| RegoPolicy::from_source(name, m))
                {
                    Ok(p) => b.custom.push(p),
                    Err(e) => b.problems.push(format!("{name}: {e}")),
                }
            } else if [".yaml", ".yml", ".json"].iter().any(|x| name.ends_with(x)) {
                yaml.push((name.as_str(), bytes.as_slice()));
                b.read_slsa_policies(name, bytes);
            }
        }
        let set = ImagePolicySet::from_sources(yaml);
        b.problems.extend(set.problems.iter().map(ToString::to_string));
        b.rejected_image_policies = set
            .problems
            .iter()
            .filter(|p| !p.kept && (p.name.is_some() || p.message.contains("ClusterImagePolicy")))
            .map(|p| (p.name.clone().unwrap_or_else(|| p.source.clone()), p.to_string()))
            .collect();
        if !set.is_empty() {
            b.image_policies = Some(set);
        }
        b.digest = format!("sha256:{}", hex::encode(h.finalize()));
        b
    }

    fn read_slsa_policies(&mut self, name: &str, bytes: &[u8]) {
        let Ok(text) = std::str::from_utf8(bytes) else { return };
        for (i, doc) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
            let v = match Value::deserialize(doc) {
                Ok(v) => v,
                Err(e) => {
                    // The image-policy reader reports the syntax error; if this file meant to
                    // hold the SlsaPolicy, SLSA must not fall back to the default.
                    if text.contains("SlsaPolicy") && self.slsa.is_none() {
                        self.slsa_invalid = Some(format!("{name}: {e}"));
                    }
                    return;
                }
            };
            if v.get("kind").and_then(Value::as_str) != Some("SlsaPolicy") {
                continue;
            }
            match slsa_policy(&v) {
                Ok(p) if self.slsa.is_none() && self.slsa_invalid.is_none() => self.slsa = Some(p),
                Ok(_) => {
                    self.problems.push(format!("{name}: document {}: a second SlsaPolicy; the first is used", i + 1))
                }
                Err(e) => {
                    let why = format!("{name}: document {}: SlsaPolicy {e}", i + 1);
                    self.problems.push(why.clone());
                    if self.slsa.is_none() {
                        self.slsa_invalid = Some(why);
                    }
                }
            }
        }
    }
}

/// Evidence, and what keyless signatures are checked against.
#[derive(Debug, Clone, Copy)]
pub struct EvidenceContext<'a> {
    pub evidence: &'a EvidenceSet,
    pub trusted_root: &'a TrustedRoot,
}

/// The result of [`evaluate_all`].
#[derive(Debug, Clone, Default)]
pub struct Evaluated {
    pub rows: Vec<EvaluationRow>,
    /// `name@version` of every framework that produced rows or was asked for.
    pub frameworks: Vec<String>,
}

impl ProvenanceSource for EvidenceSet {
    fn provenance_for(&self, image_digest: &str) -> Vec<ProvenanceDocument> {
        self.for_digest(image_digest)
            .iter()
            .filter_map(|i| {
                let kind = match i.kind {
                    EvidenceKind::SigstoreBundle => ProvenanceKind::SigstoreBundle,
                    EvidenceKind::DsseEnvelope => ProvenanceKind::DsseEnvelope,
                    EvidenceKind::GcloudProvenance => ProvenanceKind::GcloudProvenance,
                    EvidenceKind::NpmAttestations => ProvenanceKind::NpmAttestations,
                    _ => return None,
                };
                Some(ProvenanceDocument { source: i.source.clone(), bytes: i.bytes.clone(), kind })
            })
            .collect()
    }
}

/// Which frameworks run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// PSS and CIS.
    pub builtin: Vec<Framework>,
    /// `image-policy`: the bundle's ClusterImagePolicies, if any.
    pub image_policies: bool,
    /// `slsa`: the bundle's SlsaPolicy, or the default policy.
    pub slsa: bool,
    /// `custom`: the bundle's Rego modules, if any.
    pub custom: bool,
    /// The frameworks were named explicitly: one with nothing to evaluate (no
    /// ClusterImagePolicy, no Rego module) is an `error`, not silently absent.
    pub required: bool,
}

#[derive(Debug, thiserror::Error)]
#[error(
    "unknown framework {0:?} (expected pss-baseline, pss-restricted, cis-k8s (each optionally @version), image-policy, slsa or custom)"
)]
pub struct UnknownSelection(String);

impl Selection {
    /// What runs by default: PSS, CIS, image policies and custom Rego when the policy
    /// directory has them, and SLSA when it has an `SlsaPolicy` or evidence is configured.
    pub fn defaults(bundle: &PolicyBundle, have_evidence: bool) -> Self {
        Self {
            builtin: Framework::defaults(),
            image_policies: true,
            slsa: bundle.slsa.is_some() || have_evidence,
            custom: true,
            required: false,
        }
    }

    /// Exactly the named frameworks.
    pub fn parse(names: &[String]) -> Result<Self, UnknownSelection> {
        let mut s = Self { builtin: Vec::new(), image_policies: false, slsa: false, custom: false, required: true };
        for n in names {
            match n.as_str() {
                "image-policy" => s.image_policies = true,
                "slsa" => s.slsa = true,
                "custom" => s.custom = true,
                other => {
                    let f: Framework =
                        other.parse().map_err(|e: frameworks::UnknownFramework| UnknownSelection(e.to_string()))?;
                    if !s.builtin.contains(&f) {
                        s.builtin.push(f);
                    }
                }
            }
        }
        Ok(s)
    }
}

/// `sha256:<hex>` of what a scan evaluates with: the built-in frameworks and evaluator
/// version, every policy file, and the trust anchor for keyless signatures (`trust_anchor`,
/// e.g. the trusted root's digest).
pub fn policy_digest(selection: &Selection, bundle: &PolicyBundle, trust_anchor: &str) -> String {
    let mut h = Sha256::new();
    h.update(frameworks::policy_digest(&selection.builtin).as_bytes());
    h.update(format!("{}{}{}", selection.image_policies, selection.slsa, selection.custom).as_bytes());
    h.update(bundle.digest.as_bytes());
    h.update(trust_anchor.as_bytes());
    format!("sha256:{}", hex::encode(h.finalize()))
}

/// `sha256:<hex>` of a scan's inputs: the inventory and, when there is any, the image evidence.
pub fn input_digest(inv: &Inventory, evidence: &EvidenceSet) -> String {
    if evidence.is_empty() {
        return inv.digest.clone();
    }
    let mut h = Sha256::new();
    h.update(inv.digest.as_bytes());
    h.update(evidence.fingerprint().as_bytes());
    format!("sha256:{}", hex::encode(h.finalize()))
}

/// Evaluates everything selected: the built-in frameworks (PSS, CIS), image policies, SLSA
/// and custom Rego. CIS 5.5.1 is judged from the SLSA build level when SLSA runs.
pub fn evaluate_all(
    inv: &Inventory,
    selection: &Selection,
    bundle: &PolicyBundle,
    ctx: &EvidenceContext<'_>,
) -> Evaluated {
    let builtin = &selection.builtin;
    let mut out = Evaluated { frameworks: builtin.iter().map(ToString::to_string).collect(), ..Default::default() };
    let slsa_policy = selection.slsa.then(|| bundle.slsa.clone().unwrap_or_default());
    let mut slsa_rows =
        slsa_policy.as_ref().map(|p| slsa::evaluate_slsa(p, inv, ctx.evidence, ctx.trusted_root)).unwrap_or_default();
    if let Some(why) = bundle.slsa_invalid.as_ref().filter(|_| bundle.slsa.is_none()) {
        // Never judge with a weaker default than the one the owner wrote.
        for r in &mut slsa_rows {
            r.status = Status::Error;
            r.message = format!("not judged: the SlsaPolicy is invalid ({why})");
        }
    }
    // CIS 5.5.1 from the SLSA verdicts: it passes only when every SLSA control passes for the
    // container (authentic provenance for this image, trusted builder and source, level).
    let mut slsa_by_container: HashMap<(&str, &str, &str, &str), Vec<&EvaluationRow>> = HashMap::new();
    for r in &slsa_rows {
        slsa_by_container
            .entry((r.workload_kind.as_str(), r.namespace.as_str(), r.workload_name.as_str(), r.container.as_str()))
            .or_default()
            .push(r);
    }
    let hook = |w: &crate::inventory::Workload, c: &crate::k8s::Container| {
        let rows = slsa_by_container.get(&(w.kind.as_str(), w.namespace.as_str(), w.name.as_str(), c.name.as_str()))?;
        if rows.iter().any(|r| r.status == Status::Error) {
            return None;
        }
        let failing: Vec<String> = rows
            .iter()
            .filter(|r| r.status != Status::Pass)
            .map(|r| format!("{}: {}", r.control_id, r.message))
            .collect();
        if failing.is_empty() {
            let level = rows.iter().find(|r| r.control_id == "build-level").map_or("", |r| r.message.as_str());
            Some((true, level.to_string()))
        } else {
            Some((false, failing.join("; ")))
        }
    };
    let cis_ctx = CisContext { image_provenance: slsa_policy.as_ref().map(|_| &hook as _) };
    out.rows = frameworks::evaluate_with(inv, builtin, &cis_ctx);
    mark_partial_data(inv, &mut out.rows);

    let wanted_images = selection.image_policies;
    if let Some(set) = bundle.image_policies.as_ref().filter(|_| wanted_images) {
        let verifier = EvidenceVerifier { evidence: ctx.evidence, root: ctx.trusted_root };
        out.rows.extend(imagepolicy::evaluate_image_policies(set, inv, &verifier));
    }
    if wanted_images
        && (bundle.image_policies.is_some() || !bundle.rejected_image_policies.is_empty() || selection.required)
    {
        let version = bundle.image_policies.as_ref().map_or_else(|| "none".to_string(), ImagePolicySet::version);
        for (name, why) in &bundle.rejected_image_policies {
            out.rows.push(cluster_row(
                imagepolicy::IMAGE_POLICY_FRAMEWORK,
                &version,
                name,
                format!("policy rejected, not enforced: {why}"),
            ));
        }
        if bundle.image_policies.is_none() && bundle.rejected_image_policies.is_empty() {
            out.rows.push(cluster_row(
                imagepolicy::IMAGE_POLICY_FRAMEWORK,
                &version,
                "no-policies",
                "image-policy was asked for, but the policy directory holds no ClusterImagePolicy".into(),
            ));
        }
        out.frameworks.push(format!("{}@{version}", imagepolicy::IMAGE_POLICY_FRAMEWORK));
    }
    if slsa_policy.is_some() {
        out.frameworks.push(format!("{}@{}", slsa::FRAMEWORK, slsa::FRAMEWORK_VERSION));
        out.rows.extend(slsa_rows);
    }
    if selection.custom && (!bundle.custom.is_empty() || selection.required) {
        let version = imagepolicy::custom::custom_version(&bundle.custom);
        if bundle.custom.is_empty() {
            out.rows.push(cluster_row(
                "custom",
                &version,
                "no-policies",
                "custom was asked for, but the policy directory holds no Rego module".into(),
            ));
        }
        out.rows.extend(imagepolicy::evaluate_custom_policies(&bundle.custom, inv));
        out.frameworks.push(format!("custom@{version}"));
    }
    out
}

/// A row about the policy set itself, not a resource: empty workload fields, status `error`.
fn cluster_row(framework: &str, version: &str, control: &str, message: String) -> EvaluationRow {
    EvaluationRow {
        namespace: String::new(),
        workload_kind: String::new(),
        workload_name: String::new(),
        container: String::new(),
        image: String::new(),
        image_digest: String::new(),
        framework: framework.to_string(),
        framework_version: version.to_string(),
        control_id: control.to_string(),
        status: Status::Error,
        severity: tarn_model::Severity::High,
        message,
    }
}

/// CIS controls judged from object kinds the source could not list (forbidden by RBAC, say)
/// cannot pass: their passes become `error`, naming what was missing.
fn mark_partial_data(inv: &Inventory, rows: &mut [EvaluationRow]) {
    if inv.unavailable_kinds.is_empty() {
        return;
    }
    let depends: [(&str, &[&str]); 3] = [
        ("5.1.", &["Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "ServiceAccount"]),
        ("5.3.", &["NetworkPolicy", "Namespace"]),
        ("5.7.", &["Namespace"]),
    ];
    // Passes, and "nothing in scope" skips, may only reflect what could not be listed.
    let judged_on_absence = |r: &EvaluationRow| {
        r.status == Status::Pass || (r.status == Status::Skip && r.message.starts_with("no resources in scope"))
    };
    for r in rows.iter_mut().filter(|r| r.framework == "cis-k8s" && judged_on_absence(r)) {
        let missing: Vec<&str> = depends
            .iter()
            .filter(|(prefix, _)| r.control_id.starts_with(prefix))
            .flat_map(|(_, kinds)| kinds.iter().copied())
            .filter(|k| inv.unavailable_kinds.contains(*k))
            .collect();
        if !missing.is_empty() {
            r.status = Status::Error;
            r.message = format!("not judged: {} could not be listed", missing.join(", "));
        }
    }
}

#[cfg(test)]
mod tests;
