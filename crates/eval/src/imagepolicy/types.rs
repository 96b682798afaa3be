//! The `ClusterImagePolicy` object model (`policy.sigstore.dev/v1alpha1` and `v1beta1`, which
//! share one schema).
//!
//! Field names follow the CRD. Optional objects are `Option`s (absent and `null` are the same,
//! as after the API server prunes nulls); strings and lists default to empty. Decoding is done
//! after [`super::schema`] has checked field names and types, so it does not fail on shape.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A validated policy: its name, the API version it was written in, and its spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterImagePolicy {
    pub api_version: String,
    pub name: String,
    pub spec: ClusterImagePolicySpec,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterImagePolicySpec {
    #[serde(default)]
    pub images: Vec<ImagePattern>,
    #[serde(default)]
    pub authorities: Vec<Authority>,
    /// Whole-CIP policy over the verified signatures and attestations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicySource>,
    /// `enforce` (also when empty) or `warn`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mode: String,
    #[serde(default, rename = "match", skip_serializing_if = "Vec::is_empty")]
    pub match_resources: Vec<MatchResource>,
}

impl ClusterImagePolicySpec {
    /// A failing `mode: warn` policy admits with a warning instead of denying.
    pub fn is_warn(&self) -> bool {
        self.mode == "warn"
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImagePattern {
    #[serde(default)]
    pub glob: String,
}

/// One way to satisfy a policy; any authority of a policy suffices.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Authority {
    /// Defaults to `authority-<index>` (see [`Authority::display_name`]).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<KeyRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyless: Option<KeylessRef>,
    #[serde(default, rename = "static", skip_serializing_if = "Option::is_none")]
    pub static_: Option<StaticRef>,
    #[serde(default, rename = "source", skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<Source>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctlog: Option<TLog>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rfc3161timestamp: Option<Rfc3161Timestamp>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attestations: Vec<Attestation>,
    /// `legacy` (cosign's default, also when empty) or `bundle`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub signature_format: String,
}

impl Authority {
    /// The name upstream gives the authority: its `name`, else `authority-<index>`.
    pub fn display_name(&self, index: usize) -> String {
        if self.name.is_empty() { format!("authority-{index}") } else { self.name.clone() }
    }
}

/// A public key: inline PEM, a KMS URI, or a Kubernetes Secret holding the PEM.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretReference>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub data: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kms: String,
    /// `sha224`, `sha256` (default), `sha384` or `sha512`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hash_algorithm: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SecretReference {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
}

/// Fulcio-issued certificates, checked against the expected OIDC identities.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeylessRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `None` only before validation; a validated policy always has `Some`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identities: Option<Vec<Identity>>,
    #[serde(default, rename = "ca-cert", skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<KeyRef>,
    /// Name of a `TrustRoot` object holding the CA chain and CT log keys.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub trust_root_ref: String,
    #[serde(default, rename = "insecureIgnoreSCT", skip_serializing_if = "std::ops::Not::not")]
    pub insecure_ignore_sct: bool,
}

impl KeylessRef {
    pub fn identities(&self) -> &[Identity] {
        self.identities.as_deref().unwrap_or(&[])
    }
}

/// An expected certificate identity; each of issuer and subject is exact or a regexp.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub issuer: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subject: String,
    #[serde(default, rename = "issuerRegExp", skip_serializing_if = "String::is_empty")]
    pub issuer_regexp: String,
    #[serde(default, rename = "subjectRegExp", skip_serializing_if = "String::is_empty")]
    pub subject_regexp: String,
}

/// `action: pass|fail` without looking at signatures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StaticRef {
    #[serde(default)]
    pub action: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// Where signatures are stored when not beside the image.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub oci: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tag_prefix: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signature_pull_secrets: Vec<LocalObjectReference>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LocalObjectReference {
    #[serde(default)]
    pub name: String,
}

/// Transparency log (Rekor) settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TLog {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub trust_root_ref: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rfc3161Timestamp {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub trust_root_ref: String,
}

/// An attestation the authority must have verified, optionally judged by a policy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attestation {
    #[serde(default)]
    pub name: String,
    /// A cosign short name (`custom`, `slsaprovenance`, `spdxjson`, `vuln`, …) or a URI.
    #[serde(default)]
    pub predicate_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicySource>,
}

/// A `cue` or `rego` policy, inline or by reference.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicySource {
    #[serde(default, rename = "type")]
    pub type_: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub data: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<RemotePolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_ref: Option<ConfigMapReference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetch_config_file: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_spec: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_object_meta: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_type_meta: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RemotePolicy {
    #[serde(default)]
    pub url: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sha256sum: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConfigMapReference {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(default)]
    pub key: String,
}

/// Restricts a policy to resources of a kind, optionally with matching labels.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MatchResource {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub resource: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
}

/// A Kubernetes label selector (`matchLabels` and `matchExpressions` are ANDed).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LabelSelectorRequirement {
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub operator: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

impl LabelSelector {
    /// Whether `labels` satisfy the selector. An unknown operator never matches (upstream
    /// treats such a selector as an error and does not apply the policy).
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.match_labels.iter().all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|r| {
                let got = labels.get(&r.key);
                match r.operator.as_str() {
                    "In" => got.is_some_and(|g| r.values.contains(g)),
                    "NotIn" => got.is_none_or(|g| !r.values.contains(g)),
                    "Exists" => got.is_some(),
                    "DoesNotExist" => got.is_none(),
                    _ => false,
                }
            })
    }
}
