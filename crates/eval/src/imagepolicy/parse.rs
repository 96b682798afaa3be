//! Turning one decoded document into a validated [`ClusterImagePolicy`], or the rejection
//! kubectl would print for it.
//!
//! The checks run in the API server's order, and the first stage that fails decides the
//! message: strict field validation (unknown fields), the CRD schema (after null pruning and
//! the defaulting webhook), then the validating webhook.

use serde_json::Value;

use super::field_error::{FieldErrors, Level};
use super::schema;
use super::types::{ClusterImagePolicy, ClusterImagePolicySpec};
use super::validate::{ValidationOptions, validate_spec};

/// API versions of `ClusterImagePolicy` that are served.
pub const API_VERSIONS: [&str; 2] = ["policy.sigstore.dev/v1alpha1", "policy.sigstore.dev/v1beta1"];

/// Why a `ClusterImagePolicy` document was not admitted, worded as kubectl reports it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Rejection {
    #[error("no matches for kind \"ClusterImagePolicy\" in version {0:?}")]
    UnknownVersion(String),
    #[error("strict decoding error: {}", .0.iter().map(|f| format!("unknown field {f:?}")).collect::<Vec<_>>().join(", "))]
    UnknownFields(Vec<String>),
    #[error("ClusterImagePolicy {name:?} is invalid: {}", join_invalid(.errors))]
    Schema { name: String, errors: Vec<String> },
    #[error(
        "admission webhook \"validating.clusterimagepolicy.sigstore.dev\" denied the request: validation failed: {0}"
    )]
    Webhook(FieldErrors),
}

fn join_invalid(errors: &[String]) -> String {
    if errors.len() == 1 { errors[0].clone() } else { format!("[{}]", errors.join(", ")) }
}

impl Rejection {
    /// The field the rejection is first about, e.g. `spec.authorities[0].key.data`.
    pub fn field(&self) -> Option<String> {
        match self {
            Rejection::UnknownVersion(_) => Some("apiVersion".into()),
            Rejection::UnknownFields(f) => f.first().cloned(),
            Rejection::Schema { errors, .. } => errors.first().and_then(|e| e.split_once(':')).map(|(p, _)| p.into()),
            Rejection::Webhook(e) => e.first_path(),
        }
    }
}

/// Validates a `ClusterImagePolicy` document (already decoded from YAML or JSON).
pub fn parse_policy(doc: &Value, opts: ValidationOptions) -> Result<ClusterImagePolicy, Rejection> {
    let api_version = doc.get("apiVersion").and_then(Value::as_str).unwrap_or("").to_string();
    if !API_VERSIONS.contains(&api_version.as_str()) {
        return Err(Rejection::UnknownVersion(api_version));
    }
    let mut doc = doc.clone();
    schema::prune_nulls(&mut doc);
    let name = doc.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string();

    let mut unknown: Vec<String> = Vec::new();
    if let Value::Object(m) = &doc {
        unknown.extend(
            m.keys().filter(|k| !["apiVersion", "kind", "metadata", "spec", "status"].contains(&k.as_str())).cloned(),
        );
    }
    let spec = doc.get("spec").cloned().unwrap_or_else(|| Value::Object(Default::default()));
    let mut invalid = Vec::new();
    if spec.is_object() {
        let report = schema::check_spec(&spec);
        unknown.extend(report.unknown);
        invalid.extend(report.invalid);
    } else {
        invalid
            .push(format!("spec: Invalid value: \"{0}\": spec in body must be of type object: \"{0}\"", kind(&spec)));
    }
    if !unknown.is_empty() {
        return Err(Rejection::UnknownFields(unknown));
    }
    if name.is_empty() {
        invalid.insert(0, "metadata.name: Required value: name or generateName is required".into());
    }
    if !invalid.is_empty() {
        return Err(Rejection::Schema { name, errors: invalid });
    }
    let spec: ClusterImagePolicySpec = serde_json::from_value(spec)
        .map_err(|e| Rejection::Schema { name: name.clone(), errors: vec![format!("spec: Invalid value: {e}")] })?;
    let errors = validate_spec(&spec, opts).filter(Level::Error);
    if !errors.is_empty() {
        return Err(Rejection::Webhook(errors));
    }
    Ok(ClusterImagePolicy { api_version, name, spec })
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
