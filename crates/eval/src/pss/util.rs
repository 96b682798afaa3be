//! Shared helpers for the PSS checks: message formatting in upstream style and
//! attribution of a failure to the pod or to containers.

use crate::k8s::{Container, PodSpec};

use super::Implicated;

/// A failed check, before it is wrapped into a [`super::CheckVerdict`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub reason: String,
    pub detail: String,
    pub implicated: Implicated,
}

/// Result of one check function: `None` when the pod is allowed.
pub(crate) type Outcome = Option<Failure>;

/// Builds a [`Failure`].
pub(crate) fn fail(reason: impl Into<String>, detail: impl Into<String>, implicated: Implicated) -> Outcome {
    Some(Failure { reason: reason.into(), detail: detail.into(), implicated })
}

/// `a, b` → `"a", "b"` (no escaping, like upstream `joinQuote`).
pub(crate) fn join_quote<S: AsRef<str>>(items: &[S]) -> String {
    if items.is_empty() {
        return String::new();
    }
    let inner: Vec<&str> = items.iter().map(AsRef::as_ref).collect();
    format!("\"{}\"", inner.join("\", \""))
}

/// Picks the singular form when `count == 1`.
pub(crate) fn pluralize<'a>(singular: &'a str, plural: &'a str, count: usize) -> &'a str {
    if count == 1 { singular } else { plural }
}

/// `container "a"` / `containers "a", "b"`.
pub(crate) fn containers_phrase<S: AsRef<str>>(names: &[S]) -> String {
    format!("{} {}", pluralize("container", "containers", names.len()), join_quote(names))
}

/// Joins the parties that set a forbidden value: `pod`, `containers "a", "b"`,
/// or `pod and container "a"`.
pub(crate) fn setters_phrase<S: AsRef<str>>(pod: bool, containers: &[S]) -> String {
    let mut parts = Vec::new();
    if pod {
        parts.push("pod".to_string());
    }
    if !containers.is_empty() {
        parts.push(containers_phrase(containers));
    }
    parts.join(" and ")
}

/// Quotes a string the way Go's `%q` verb does for ordinary text.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Every container of the pod in upstream visiting order.
pub(crate) fn containers(spec: &PodSpec) -> impl Iterator<Item = &Container> {
    spec.all_containers()
}

/// `spec.os.name == "windows"`.
pub(crate) fn is_windows(spec: &PodSpec) -> bool {
    spec.os.as_ref().is_some_and(|os| os.name == "windows")
}

/// The pod runs in a user namespace (`hostUsers: false`).
pub(crate) fn in_user_namespace(spec: &PodSpec) -> bool {
    spec.host_users == Some(false)
}

/// Container-level attribution: the given names, de-duplicated, in order.
pub(crate) fn implicate_containers<S: AsRef<str>>(names: &[S]) -> Implicated {
    let mut out: Vec<String> = Vec::new();
    for name in names {
        if !out.iter().any(|n| n == name.as_ref()) {
            out.push(name.as_ref().to_string());
        }
    }
    Implicated::Containers(out)
}

/// Pod-level attribution when `pod` is set, otherwise the containers.
pub(crate) fn implicate<S: AsRef<str>>(pod: bool, names: &[S]) -> Implicated {
    if pod { Implicated::Pod } else { implicate_containers(names) }
}
