//! The validating webhook's rules for a `ClusterImagePolicy` spec, with its error wording.
//!
//! Upstream (`pkg/apis/policy/v1beta1/clusterimagepolicy_validation.go`; v1alpha1 objects are
//! converted and validated the same way) is followed rule by rule. Where Tarn differs it says
//! so in a comment: attestation errors carry their index, `ca-cert.data` may hold a
//! certificate, and label selectors are checked at load time rather than at admission of each
//! workload.

use regex::Regex;

use super::field_error::FieldErrors;
use super::glob::ImageGlob;
use super::keys;
use super::types::*;

/// Resource names `spec.match[].resource` may use (the webhook's default resource list).
pub const MATCH_RESOURCES: [&str; 7] =
    ["replicasets", "deployments", "pods", "cronjobs", "jobs", "statefulsets", "daemonsets"];

/// cosign's short predicate type names; anything else must be a URI.
pub const PREDICATE_SHORT_NAMES: [&str; 10] = [
    "custom",
    "slsaprovenance",
    "slsaprovenance02",
    "slsaprovenance1",
    "spdx",
    "spdxjson",
    "cyclonedx",
    "link",
    "vuln",
    "openvex",
];

/// Settings from `config-policy-controller` that change validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidationOptions {
    /// Reject policies without authorities (upstream default `true`).
    pub fail_on_empty_authorities: bool,
}

impl Default for ValidationOptions {
    fn default() -> Self {
        Self { fail_on_empty_authorities: true }
    }
}

/// All webhook diagnostics for `spec`, with paths starting at `spec`.
pub fn validate_spec(spec: &ClusterImagePolicySpec, opts: ValidationOptions) -> FieldErrors {
    let mut errs = FieldErrors::none();
    if spec.images.is_empty() {
        errs.also(FieldErrors::missing(&["images"]));
    }
    for (i, image) in spec.images.iter().enumerate() {
        let e = if image.glob.is_empty() {
            FieldErrors::missing(&["glob"])
        } else {
            match ImageGlob::compile(&image.glob) {
                Ok(_) => FieldErrors::none(),
                Err(why) => FieldErrors::invalid(&image.glob, "glob", &format!("glob is invalid: {why}")),
            }
        };
        errs.also(e.via_field_index("images", i));
    }
    if spec.authorities.is_empty() && opts.fail_on_empty_authorities {
        errs.also(FieldErrors::missing(&["authorities"]));
    }
    for (i, a) in spec.authorities.iter().enumerate() {
        errs.also(validate_authority(a).via_field_index("authorities", i));
    }
    if !spec.mode.is_empty() && spec.mode != "enforce" && spec.mode != "warn" {
        errs.also(FieldErrors::invalid(&spec.mode, "mode", "unsupported mode"));
    }
    for (i, m) in spec.match_resources.iter().enumerate() {
        errs.also(validate_match(m).via_field_index("match", i));
    }
    if let Some(p) = &spec.policy {
        errs.also(validate_policy(p, true).via_field("policy"));
    }
    errs.via_field("spec")
}

fn validate_authority(a: &Authority) -> FieldErrors {
    let kinds = [a.key.is_some(), a.keyless.is_some(), a.static_.is_some()];
    let set = kinds.iter().filter(|k| **k).count();
    if set == 0 {
        return FieldErrors::missing_one_of(&["key", "keyless", "static"]);
    }
    if set > 1 {
        return FieldErrors::multiple_one_of(&["key", "keyless", "static"]);
    }
    let mut errs = FieldErrors::none();
    if let Some(k) = &a.key {
        errs.also(validate_key(k, false).via_field("key"));
    }
    if let Some(k) = &a.keyless {
        errs.also(validate_keyless(k).via_field("keyless"));
    }
    if let Some(s) = &a.static_ {
        if s.action.is_empty() {
            errs.also(FieldErrors::missing(&["action"]).via_field("static"));
        } else if s.action != "pass" && s.action != "fail" {
            errs.also(FieldErrors::invalid(&s.action, "action", "unsupported action").via_field("static"));
        }
        // Signature sources, logs and attestations mean nothing to a static decision.
        for (set, other) in [
            (!a.attestations.is_empty(), "attestations"),
            (!a.sources.is_empty(), "source"),
            (a.ctlog.is_some(), "ctlog"),
            (a.rfc3161timestamp.is_some(), "rfc3161timestamp"),
        ] {
            if set {
                errs.also(FieldErrors::multiple_one_of(&["static", other]));
            }
        }
    }
    if !matches!(a.signature_format.as_str(), "" | "legacy" | "bundle") {
        errs.also(FieldErrors::invalid(&a.signature_format, "signatureFormat", "unsupported signature format"));
    }
    for (i, s) in a.sources.iter().enumerate() {
        errs.also(validate_source(s).via_field_index("source", i));
    }
    for (i, att) in a.attestations.iter().enumerate() {
        // Upstream prefixes only `attestations` (no index); the index makes the path usable.
        errs.also(validate_attestation(att).via_field_index("attestations", i));
    }
    errs
}

/// `key` and `keyless.ca-cert` share this check; `ca` accepts certificates as data.
fn validate_key(k: &KeyRef, ca: bool) -> FieldErrors {
    let mut errs = FieldErrors::none();
    const ONE_OF: [&str; 3] = ["data", "kms", "secretref"];
    if k.data.is_empty() && k.kms.is_empty() && k.secret_ref.is_none() {
        errs.also(FieldErrors::missing_one_of(&ONE_OF));
    }
    if !k.hash_algorithm.is_empty() && !keys::HASH_ALGORITHMS.contains(&k.hash_algorithm.as_str()) {
        errs.also(FieldErrors::invalid(&k.hash_algorithm, "hashAlgorithm", ""));
    }
    if !k.data.is_empty() {
        if !k.kms.is_empty() || k.secret_ref.is_some() {
            errs.also(FieldErrors::multiple_one_of(&ONE_OF));
        }
        let parsed = if ca { keys::parse_ca_pem(&k.data) } else { keys::parse_public_key_pem(&k.data).map(drop) };
        if parsed.is_err() {
            errs.also(FieldErrors::invalid(&k.data, "data", ""));
        }
    } else if !k.kms.is_empty() && k.secret_ref.is_some() {
        errs.also(FieldErrors::multiple_one_of(&ONE_OF));
    }
    if !k.kms.is_empty()
        && let Some(why) = keys::kms_problem(&k.kms)
    {
        errs.also(FieldErrors::invalid(&k.kms, "", &why).via_field("kms"));
    }
    errs
}

fn validate_keyless(k: &KeylessRef) -> FieldErrors {
    let mut errs = FieldErrors::none();
    if k.url.is_some() && k.ca_cert.is_some() {
        errs.also(FieldErrors::multiple_one_of(&["url", "ca-cert"]));
    }
    if let Some(ca) = &k.ca_cert {
        errs.also(validate_key(ca, true).via_field("ca-cert"));
    }
    match &k.identities {
        Some(ids) if ids.is_empty() => errs.also(FieldErrors::missing(&["identities"])),
        Some(ids) => {
            for (i, id) in ids.iter().enumerate() {
                errs.also(validate_identity(id).via_field_index("identities", i));
            }
        }
        // The schema check reports the `null` the defaulting webhook writes.
        None => {}
    }
    errs
}

fn validate_identity(id: &Identity) -> FieldErrors {
    let mut errs = FieldErrors::none();
    if !id.issuer.is_empty() && !id.issuer_regexp.is_empty() {
        errs.also(FieldErrors::multiple_one_of(&["issuer", "issuerRegExp"]));
    }
    if !id.subject.is_empty() && !id.subject_regexp.is_empty() {
        errs.also(FieldErrors::multiple_one_of(&["subject", "subjectRegExp"]));
    }
    for (re, field) in [(&id.issuer_regexp, "issuerRegExp"), (&id.subject_regexp, "subjectRegExp")] {
        if !re.is_empty()
            && let Err(e) = Regex::new(re)
        {
            let why = format!("regex is invalid: {}", one_line(&e.to_string()));
            errs.also(FieldErrors::invalid(re, "", &why).via_field(field));
        }
    }
    if id.subject.is_empty() && id.subject_regexp.is_empty() {
        errs.also(FieldErrors::missing(&["subject", "subjectRegExp"]));
    }
    if id.issuer.is_empty() && id.issuer_regexp.is_empty() {
        errs.also(FieldErrors::missing(&["issuer", "issuerRegExp"]));
    }
    errs
}

/// The regex crate explains errors over several lines with a caret diagram.
fn one_line(s: &str) -> String {
    s.lines().map(str::trim).filter(|l| !l.is_empty() && !l.chars().all(|c| c == '^')).collect::<Vec<_>>().join(" ")
}

fn validate_source(s: &Source) -> FieldErrors {
    let mut errs = FieldErrors::none();
    if !s.oci.is_empty()
        && let Err(why) = validate_oci(&s.oci)
    {
        errs.also(FieldErrors::invalid(&s.oci, "oci", &why));
    }
    for (i, secret) in s.signature_pull_secrets.iter().enumerate() {
        if secret.name.is_empty() {
            errs.also(FieldErrors::missing(&["name"]).via_field_index("signaturePullSecrets", i));
        }
    }
    errs
}

/// A registry (`registry.local:5000`) or a repository in one (`ghcr.io/org/sigs`).
fn validate_oci(oci: &str) -> Result<(), String> {
    let host_ok = |h: &str| !h.is_empty() && h.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c));
    match oci.split_once('/') {
        Some((host, repo)) if host.contains(['.', ':']) => {
            if !host_ok(host) {
                return Err(format!("registries must be valid RFC 3986 URI authorities: {host}"));
            }
            let repo_ok = (2..=255).contains(&repo.len())
                && repo.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-./".contains(c));
            if repo_ok {
                Ok(())
            } else {
                Err(format!(
                    "repository can only contain the characters `abcdefghijklmnopqrstuvwxyz0123456789_-./`: {repo}"
                ))
            }
        }
        _ if host_ok(oci) => Ok(()),
        _ => Err(format!("registries must be valid RFC 3986 URI authorities: {oci}")),
    }
}

fn validate_attestation(a: &Attestation) -> FieldErrors {
    let mut errs = FieldErrors::none();
    if a.name.is_empty() {
        errs.also(FieldErrors::missing(&["name"]));
    }
    if a.predicate_type.is_empty() {
        errs.also(FieldErrors::missing(&["predicateType"]));
    } else if !PREDICATE_SHORT_NAMES.contains(&a.predicate_type.as_str()) && !is_request_uri(&a.predicate_type) {
        errs.also(FieldErrors::invalid(&a.predicate_type, "predicateType", "unsupported predicate type"));
    }
    if let Some(p) = &a.policy {
        errs.also(validate_policy(p, false).via_field("policy"));
    }
    errs
}

/// Go's `url.ParseRequestURI` acceptance: an absolute URI or an absolute path.
fn is_request_uri(s: &str) -> bool {
    if s.starts_with('/') {
        return true;
    }
    let Some((scheme, _)) = s.split_once(':') else { return false };
    let mut cs = scheme.chars();
    cs.next().is_some_and(|c| c.is_ascii_alphabetic())
        && cs.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        && !s.contains(char::is_whitespace)
}

fn validate_policy(p: &PolicySource, within_spec: bool) -> FieldErrors {
    let mut errs = FieldErrors::none();
    if p.type_ != "cue" && p.type_ != "rego" {
        errs.also(FieldErrors::invalid(&p.type_, "type", "only [cue,rego] are supported at the moment"));
    }
    const ONE_OF: [&str; 3] = ["configMapRef", "data", "remote"];
    match [!p.data.is_empty(), p.config_map_ref.is_some(), p.remote.is_some()].iter().filter(|s| **s).count() {
        0 => errs.also(FieldErrors::missing_one_of(&ONE_OF)),
        1 => {}
        _ => errs.also(FieldErrors::multiple_one_of(&ONE_OF)),
    }
    if let Some(c) = &p.config_map_ref {
        let mut e = FieldErrors::none();
        if c.name.is_empty() {
            e.also(FieldErrors::missing(&["name"]));
        }
        if c.key.is_empty() {
            e.also(FieldErrors::missing(&["key"]));
        }
        errs.also(e.via_field("configMapRef"));
    }
    if let Some(r) = &p.remote
        && r.url.is_empty()
    {
        errs.also(FieldErrors::missing(&["url"]).via_field("remote"));
    }
    if !within_spec {
        for (set, field) in [
            (p.fetch_config_file.is_some(), "fetchConfigFile"),
            (p.include_spec.is_some(), "includeSpec"),
            (p.include_object_meta.is_some(), "includeObjectMeta"),
            (p.include_type_meta.is_some(), "includeTypeMeta"),
        ] {
            if set {
                errs.also(FieldErrors::disallowed(&[field]));
            }
        }
    }
    errs
}

fn validate_match(m: &MatchResource) -> FieldErrors {
    let mut errs = FieldErrors::none();
    if !m.resource.is_empty() && !MATCH_RESOURCES.contains(&m.resource.as_str()) {
        errs.also(FieldErrors::invalid(&m.resource, "resource", "unsupported resource name"));
    }
    if let Some(sel) = &m.selector {
        if m.resource.is_empty() && m.version.is_empty() && m.group.is_empty() {
            errs.also(FieldErrors::invalid(
                &m.resource,
                "selector",
                "selector requires a resource type to match the labels",
            ));
        }
        // Upstream finds a bad selector only when a workload is admitted; Tarn reports it here.
        for (j, r) in sel.match_expressions.iter().enumerate() {
            let why = match r.operator.as_str() {
                "In" | "NotIn" if r.values.is_empty() => "values: must be specified when `operator` is 'In' or 'NotIn'",
                "Exists" | "DoesNotExist" if !r.values.is_empty() => {
                    "values: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
                }
                "In" | "NotIn" | "Exists" | "DoesNotExist" => continue,
                _ => "not a valid selector operator",
            };
            errs.also(
                FieldErrors::invalid(&r.operator, "operator", why)
                    .via_field_index("matchExpressions", j)
                    .via_field("selector"),
            );
        }
    }
    errs
}
