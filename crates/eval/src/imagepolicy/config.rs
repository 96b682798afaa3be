//! The `config-policy-controller` ConfigMap: what happens to images no policy matches, and
//! whether policies without authorities are admitted.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use super::validate::ValidationOptions;

/// The ConfigMap's name in the `cosign-system` namespace.
pub const CONFIG_MAP_NAME: &str = "config-policy-controller";

/// What to do with an image that no policy matches (`no-match-policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoMatchPolicy {
    Allow,
    Deny,
    Warn,
}

impl fmt::Display for NoMatchPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NoMatchPolicy::Allow => "allow",
            NoMatchPolicy::Deny => "deny",
            NoMatchPolicy::Warn => "warn",
        })
    }
}

/// policy-controller's global settings; [`Default`] is upstream's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyControllerConfig {
    pub no_match_policy: NoMatchPolicy,
    pub fail_on_empty_authorities: bool,
    pub enable_oci11: bool,
}

impl Default for PolicyControllerConfig {
    fn default() -> Self {
        Self { no_match_policy: NoMatchPolicy::Deny, fail_on_empty_authorities: true, enable_oci11: false }
    }
}

impl PolicyControllerConfig {
    /// Reads the ConfigMap's `data`. `_example` is documentation and is ignored, as upstream
    /// ignores it; an unknown `no-match-policy` means `deny`.
    pub fn from_config_map(doc: &Value) -> Result<Self, String> {
        let mut data = BTreeMap::new();
        if let Some(Value::Object(m)) = doc.get("data") {
            for (k, v) in m {
                if k != "_example" {
                    data.insert(k.clone(), scalar(v).ok_or_else(|| format!("data.{k}: expected a string"))?);
                }
            }
        }
        Self::from_data(&data)
    }

    /// Reads settings from key/value pairs.
    pub fn from_data(data: &BTreeMap<String, String>) -> Result<Self, String> {
        let no_match_policy = match data.get("no-match-policy").map(String::as_str) {
            Some("allow") => NoMatchPolicy::Allow,
            Some("warn") => NoMatchPolicy::Warn,
            _ => NoMatchPolicy::Deny,
        };
        let mut c = Self { no_match_policy, ..Self::default() };
        if let Some(v) = data.get("fail-on-empty-authorities") {
            c.fail_on_empty_authorities = parse_bool("fail-on-empty-authorities", v)?;
        }
        if let Some(v) = data.get("enable-oci11") {
            c.enable_oci11 = parse_bool("enable-oci11", v)?;
        }
        Ok(c)
    }

    pub fn validation(&self) -> ValidationOptions {
        ValidationOptions { fail_on_empty_authorities: self.fail_on_empty_authorities }
    }
}

/// A ConfigMap value; YAML written by hand may hold a bare boolean or number.
pub(crate) fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Go's `strconv.ParseBool`.
fn parse_bool(key: &str, v: &str) -> Result<bool, String> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!("{key}: strconv.ParseBool: parsing {v:?}: invalid syntax")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_settings_and_ignores_example() {
        let c = PolicyControllerConfig::from_config_map(&json!({"data": {"_example": "no-match-policy: allow"}}));
        assert_eq!(c, Ok(PolicyControllerConfig::default()));
        let c = PolicyControllerConfig::from_config_map(
            &json!({"data": {"no-match-policy": "warn", "fail-on-empty-authorities": "false"}}),
        )
        .unwrap();
        assert_eq!((c.no_match_policy, c.fail_on_empty_authorities), (NoMatchPolicy::Warn, false));
        let bad = PolicyControllerConfig::from_config_map(&json!({"data": {"enable-oci11": "not-a-boolean"}}));
        assert!(bad.unwrap_err().contains("invalid syntax"));
    }
}
