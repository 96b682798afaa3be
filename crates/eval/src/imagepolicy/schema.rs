//! What the API server checks before the validating webhook runs: field names (kubectl's strict
//! field validation), field types (the CRD's OpenAPI schema), null pruning, and the effect of
//! policy-controller's defaulting webhook.
//!
//! The defaulting webhook decodes the object into Go structs and writes it back. Two list fields
//! of those structs lack `omitempty`, so when they are absent they come back as `null`:
//! `spec.images` and `spec.authorities[*].keyless.identities`. The CRD schema then rejects the
//! `null` ("must be of type array"), which is why upstream's fixtures expect
//! `keyless.identities: Invalid value` for a keyless authority without identities.

use serde_json::{Map, Value};

#[derive(Clone, Copy)]
enum Ty {
    Str,
    Bool,
    /// An object with arbitrary keys and string values (`matchLabels`).
    StrMap,
    Arr(&'static Ty),
    Obj(&'static [(&'static str, Ty)]),
}

const SECRET_REF: Ty = Ty::Obj(&[("name", Ty::Str), ("namespace", Ty::Str)]);
const KEY_REF: Ty =
    Ty::Obj(&[("data", Ty::Str), ("hashAlgorithm", Ty::Str), ("kms", Ty::Str), ("secretRef", SECRET_REF)]);
const IDENTITY: Ty =
    Ty::Obj(&[("issuer", Ty::Str), ("issuerRegExp", Ty::Str), ("subject", Ty::Str), ("subjectRegExp", Ty::Str)]);
const POLICY: Ty = Ty::Obj(&[
    ("configMapRef", Ty::Obj(&[("key", Ty::Str), ("name", Ty::Str), ("namespace", Ty::Str)])),
    ("data", Ty::Str),
    ("fetchConfigFile", Ty::Bool),
    ("includeObjectMeta", Ty::Bool),
    ("includeSpec", Ty::Bool),
    ("includeTypeMeta", Ty::Bool),
    ("remote", Ty::Obj(&[("sha256sum", Ty::Str), ("url", Ty::Str)])),
    ("type", Ty::Str),
]);
const ATTESTATION: Ty = Ty::Obj(&[("name", Ty::Str), ("policy", POLICY), ("predicateType", Ty::Str)]);
const SOURCE: Ty = Ty::Obj(&[
    ("oci", Ty::Str),
    ("signaturePullSecrets", Ty::Arr(&Ty::Obj(&[("name", Ty::Str)]))),
    ("tagPrefix", Ty::Str),
]);
const AUTHORITY: Ty = Ty::Obj(&[
    ("attestations", Ty::Arr(&ATTESTATION)),
    ("ctlog", Ty::Obj(&[("trustRootRef", Ty::Str), ("url", Ty::Str)])),
    ("key", KEY_REF),
    (
        "keyless",
        Ty::Obj(&[
            ("ca-cert", KEY_REF),
            ("identities", Ty::Arr(&IDENTITY)),
            ("insecureIgnoreSCT", Ty::Bool),
            ("trustRootRef", Ty::Str),
            ("url", Ty::Str),
        ]),
    ),
    ("name", Ty::Str),
    ("rfc3161timestamp", Ty::Obj(&[("trustRootRef", Ty::Str)])),
    ("signatureFormat", Ty::Str),
    ("source", Ty::Arr(&SOURCE)),
    ("static", Ty::Obj(&[("action", Ty::Str), ("message", Ty::Str)])),
]);
const SELECTOR: Ty = Ty::Obj(&[
    ("matchExpressions", Ty::Arr(&Ty::Obj(&[("key", Ty::Str), ("operator", Ty::Str), ("values", Ty::Arr(&Ty::Str))]))),
    ("matchLabels", Ty::StrMap),
]);
const SPEC: Ty = Ty::Obj(&[
    ("authorities", Ty::Arr(&AUTHORITY)),
    ("images", Ty::Arr(&Ty::Obj(&[("glob", Ty::Str)]))),
    (
        "match",
        Ty::Arr(&Ty::Obj(&[("group", Ty::Str), ("resource", Ty::Str), ("selector", SELECTOR), ("version", Ty::Str)])),
    ),
    ("mode", Ty::Str),
    ("policy", POLICY),
]);

/// Every field of the spec schema with its type (`string`, `boolean`, `array`, `object`, or
/// `map` for free-form string maps), paths like `spec.authorities[].key.data`. Lets tests
/// compare the table with the CRD.
pub fn crd_field_types() -> Vec<(String, &'static str)> {
    fn name(t: Ty) -> &'static str {
        match t {
            Ty::Str => "string",
            Ty::Bool => "boolean",
            Ty::StrMap => "map",
            Ty::Arr(_) => "array",
            Ty::Obj(_) => "object",
        }
    }
    fn go(t: Ty, path: &str, out: &mut Vec<(String, &'static str)>) {
        match t {
            Ty::Obj(fields) => {
                for (k, f) in fields {
                    let p = format!("{path}.{k}");
                    out.push((p.clone(), name(*f)));
                    go(*f, &p, out);
                }
            }
            Ty::Arr(item) => go(*item, &format!("{path}[]"), out),
            _ => {}
        }
    }
    let mut out = Vec::new();
    go(SPEC, "spec", &mut out);
    out
}

/// Removes `null` object members everywhere, as the API server prunes them from custom
/// resources before anything else looks at the object.
pub(crate) fn prune_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(prune_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(prune_nulls),
        _ => {}
    }
}

/// Problems found before admission.
#[derive(Debug, Default)]
pub(crate) struct SchemaReport {
    /// Fields the schema does not know (`spec.authorities[0].identites`).
    pub unknown: Vec<String>,
    /// `path: Invalid value: …` lines, in document order.
    pub invalid: Vec<String>,
}

/// Checks the `spec` of a null-pruned document, including the nulls the defaulting webhook
/// would introduce.
pub(crate) fn check_spec(spec: &Value) -> SchemaReport {
    let mut r = SchemaReport::default();
    walk(spec, SPEC, "spec", &mut r);
    if let Value::Object(m) = spec {
        if !m.contains_key("images") {
            r.invalid.push(null_array("spec.images"));
        }
        if let Some(Value::Array(auths)) = m.get("authorities") {
            for (i, a) in auths.iter().enumerate() {
                if let Some(Value::Object(kl)) = a.get("keyless")
                    && !kl.contains_key("identities")
                {
                    r.invalid.push(null_array(&format!("spec.authorities[{i}].keyless.identities")));
                }
            }
        }
    }
    r
}

fn null_array(path: &str) -> String {
    format!("{path}: Invalid value: \"null\": {path} in body must be of type array: \"null\"")
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn wrong_type(path: &str, want: &str, v: &Value, r: &mut SchemaReport) {
    let got = type_name(v);
    r.invalid.push(format!("{path}: Invalid value: \"{got}\": {path} in body must be of type {want}: \"{got}\""));
}

fn walk(v: &Value, ty: Ty, path: &str, r: &mut SchemaReport) {
    match (ty, v) {
        (Ty::Str, Value::String(_)) | (Ty::Bool, Value::Bool(_)) => {}
        (Ty::Str, _) => wrong_type(path, "string", v, r),
        (Ty::Bool, _) => wrong_type(path, "boolean", v, r),
        (Ty::StrMap, Value::Object(m)) => {
            for (k, x) in m {
                if !x.is_string() {
                    wrong_type(&format!("{path}.{k}"), "string", x, r);
                }
            }
        }
        (Ty::StrMap, _) => wrong_type(path, "object", v, r),
        (Ty::Arr(item), Value::Array(a)) => {
            for (i, x) in a.iter().enumerate() {
                walk(x, *item, &format!("{path}[{i}]"), r);
            }
        }
        (Ty::Arr(_), _) => wrong_type(path, "array", v, r),
        (Ty::Obj(fields), Value::Object(m)) => walk_object(m, fields, path, r),
        (Ty::Obj(_), _) => wrong_type(path, "object", v, r),
    }
}

fn walk_object(m: &Map<String, Value>, fields: &[(&str, Ty)], path: &str, r: &mut SchemaReport) {
    for (k, x) in m {
        let sub = format!("{path}.{k}");
        match fields.iter().find(|(name, _)| name == k) {
            Some((_, ty)) => walk(x, *ty, &sub, r),
            None => r.unknown.push(sub),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_unknown_fields_types_and_defaulted_nulls() {
        let mut doc = json!({
            "authorities": [
                {"keyless": {"url": "https://fulcio.sigstore.dev"}, "identites": []},
                {"key": {"data": 5}, "keyless": null},
            ],
            "mode": null,
        });
        prune_nulls(&mut doc);
        let r = check_spec(&doc);
        assert_eq!(r.unknown, ["spec.authorities[0].identites"]);
        assert_eq!(
            r.invalid,
            [
                "spec.authorities[1].key.data: Invalid value: \"integer\": spec.authorities[1].key.data in body must be of type string: \"integer\"",
                "spec.images: Invalid value: \"null\": spec.images in body must be of type array: \"null\"",
                "spec.authorities[0].keyless.identities: Invalid value: \"null\": spec.authorities[0].keyless.identities in body must be of type array: \"null\"",
            ]
        );
        let ok = json!({"images": [{"glob": "**"}], "match": [{"selector": {"matchLabels": {"a": "b"}}}]});
        let r = check_spec(&ok);
        assert!(r.unknown.is_empty() && r.invalid.is_empty(), "{r:?}");
    }
}
