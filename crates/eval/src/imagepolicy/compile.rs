//! A validated policy prepared for evaluation: globs compiled, identity regexps compiled,
//! attestation and CIP-level policies resolved and compiled.

use std::collections::BTreeMap;

use super::glob::ImageGlob;
use super::rego::SigstoreRego;
use super::types::{Authority, ClusterImagePolicy, PolicySource};
use super::verifier::{IdentityMatcher, predicate_type_uri};

/// How a `cue`/`rego` policy can be checked.
#[derive(Debug, Clone)]
pub enum PolicyCheck {
    Rego(Box<SigstoreRego>),
    /// Cannot be evaluated here; evaluating it yields status `error` with this reason.
    Unsupported(String),
}

/// ConfigMaps the policy set has seen, for `configMapRef`: (namespace, name) → data.
pub type ConfigMaps = BTreeMap<(String, String), BTreeMap<String, String>>;

/// Namespace a `configMapRef` without one refers to (policy-controller's own).
pub const SYSTEM_NAMESPACE: &str = "cosign-system";

impl PolicyCheck {
    /// Resolves the policy text (inline, or from a loaded ConfigMap) and compiles it.
    pub fn compile(p: &PolicySource, what: &str, config_maps: &ConfigMaps) -> Self {
        let text = if !p.data.is_empty() {
            p.data.clone()
        } else if let Some(r) = &p.config_map_ref {
            let ns = if r.namespace.is_empty() { SYSTEM_NAMESPACE } else { &r.namespace };
            match config_maps.get(&(ns.to_string(), r.name.clone())).and_then(|d| d.get(&r.key)) {
                Some(t) => t.clone(),
                None => {
                    return PolicyCheck::Unsupported(format!(
                        "{what}: ConfigMap {ns}/{} with key {:?} is not among the loaded policy files",
                        r.name, r.key
                    ));
                }
            }
        } else if let Some(r) = &p.remote {
            return PolicyCheck::Unsupported(format!(
                "{what}: remote policies are not fetched (offline evaluation); inline the policy from {}",
                r.url
            ));
        } else {
            return PolicyCheck::Unsupported(format!("{what}: policy has no data"));
        };
        match p.type_.as_str() {
            "rego" => match SigstoreRego::compile(&text) {
                Ok(r) => PolicyCheck::Rego(Box::new(r)),
                Err(e) => PolicyCheck::Unsupported(format!("{what}: rego policy does not compile: {e}")),
            },
            "cue" => PolicyCheck::Unsupported(format!("{what}: CUE policies are not supported")),
            other => PolicyCheck::Unsupported(format!("{what}: policy type {other:?} is not supported")),
        }
    }

    /// The reason it cannot be evaluated, if any.
    pub fn unsupported(&self) -> Option<&str> {
        match self {
            PolicyCheck::Unsupported(s) => Some(s),
            PolicyCheck::Rego(_) => None,
        }
    }
}

/// An attestation an authority requires.
#[derive(Debug, Clone)]
pub struct CompiledAttestation {
    pub name: String,
    /// `predicateType` as written (`custom`, `https://slsa.dev/provenance/v1`, …).
    pub predicate_type: String,
    /// The URI it stands for.
    pub predicate_uri: String,
    pub check: Option<PolicyCheck>,
}

/// An authority ready to evaluate.
#[derive(Debug, Clone)]
pub struct CompiledAuthority {
    /// `name`, or `authority-<index>`.
    pub name: String,
    pub authority: Authority,
    /// For keyless authorities.
    pub identities: Option<IdentityMatcher>,
    pub attestations: Vec<CompiledAttestation>,
}

/// A validated, compiled `ClusterImagePolicy`, with where it came from.
#[derive(Debug, Clone)]
pub struct CompiledPolicy {
    pub policy: ClusterImagePolicy,
    pub source: String,
    /// 1-based document number within `source`.
    pub document: usize,
    pub globs: Vec<ImageGlob>,
    pub authorities: Vec<CompiledAuthority>,
    /// `spec.policy`, evaluated when at least one authority passes.
    pub check: Option<PolicyCheck>,
}

impl CompiledPolicy {
    /// Compiles a validated policy (validation guarantees globs and regexps compile).
    pub fn compile(policy: ClusterImagePolicy, source: &str, document: usize, config_maps: &ConfigMaps) -> Self {
        let globs = policy.spec.images.iter().filter_map(|i| ImageGlob::compile(&i.glob).ok()).collect();
        let authorities = policy
            .spec
            .authorities
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let name = a.display_name(i);
                let attestations = a
                    .attestations
                    .iter()
                    .map(|att| CompiledAttestation {
                        name: att.name.clone(),
                        predicate_type: att.predicate_type.clone(),
                        predicate_uri: predicate_type_uri(&att.predicate_type).to_string(),
                        check: att.policy.as_ref().map(|p| {
                            PolicyCheck::compile(
                                p,
                                &format!("attestation {} of authority {name}", att.name),
                                config_maps,
                            )
                        }),
                    })
                    .collect();
                CompiledAuthority {
                    identities: a.keyless.as_ref().and_then(|k| IdentityMatcher::new(k.identities()).ok()),
                    name,
                    authority: a.clone(),
                    attestations,
                }
            })
            .collect();
        let check = policy.spec.policy.as_ref().map(|p| {
            if p.fetch_config_file == Some(true) {
                // The image config would come from a registry; evaluation is offline.
                PolicyCheck::Unsupported(
                    "spec.policy: fetchConfigFile needs the image config, which is not fetched".into(),
                )
            } else {
                PolicyCheck::compile(p, "spec.policy", config_maps)
            }
        });
        Self { policy, source: source.to_string(), document, globs, authorities, check }
    }

    pub fn name(&self) -> &str {
        &self.policy.name
    }

    /// Reasons parts of this policy cannot be evaluated (CUE, remote policies, …).
    pub fn unsupported(&self) -> Vec<&str> {
        let atts = self.authorities.iter().flat_map(|a| a.attestations.iter().filter_map(|t| t.check.as_ref()));
        atts.chain(self.check.as_ref()).filter_map(PolicyCheck::unsupported).collect()
    }
}
