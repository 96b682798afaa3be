//! Rego evaluation with regorus, in policy-controller's convention.
//!
//! An attestation policy (and a whole-CIP `spec.policy`) of `type: rego` is a module in
//! `package sigstore` defining `isCompliant`, evaluated with the in-toto statement (or the
//! policy result) as `input`. `isCompliant` is either a boolean, or a set of
//! `{"result": bool, "warning": string, "error": string}` objects: a member with `result:
//! true` passes (its warning, if any, is reported), otherwise the last `error` is the reason.
//! Upstream parses these modules as Rego v0 (`isCompliant { … }` without `if`); modules that
//! only parse as v1 are accepted too.

use std::num::NonZeroU32;
use std::time::Duration;

use regorus::utils::limits::ExecutionTimerConfig;
use regorus::{Engine, Value as RegoValue};
use serde_json::Value;

/// The query upstream evaluates, quoted in its error messages.
pub const SIGSTORE_QUERY: &str = "isCompliant = data.sigstore.isCompliant";

/// Wall-clock budget of one policy evaluation.
pub const EVALUATION_TIME_LIMIT: Duration = Duration::from_secs(5);

/// Builds an engine holding one module, trying Rego v0 syntax first (upstream's), then v1.
pub fn engine_with_module(label: &str, source: &str, v0_first: bool) -> Result<Engine, String> {
    let attempt = |v0: bool| {
        let mut e = Engine::new();
        e.set_rego_v0(v0);
        // A runaway policy must not stall a scan.
        e.set_execution_timer_config(ExecutionTimerConfig {
            limit: EVALUATION_TIME_LIMIT,
            check_interval: NonZeroU32::new(1000).expect("non-zero"),
        });
        e.add_policy(label.to_string(), source.to_string()).map(|_| e).map_err(|err| err.to_string())
    };
    match attempt(v0_first) {
        Ok(e) => Ok(e),
        Err(first) => attempt(!v0_first).map_err(|_| first),
    }
}

/// Converts a JSON document into a Rego value.
pub fn to_rego(v: &Value) -> RegoValue {
    RegoValue::from(v.clone())
}

/// A compiled `package sigstore` module.
#[derive(Debug, Clone)]
pub struct SigstoreRego {
    engine: Engine,
}

/// A passing evaluation, possibly with a warning from the policy.
pub type Compliance = Option<String>;

impl SigstoreRego {
    pub fn compile(source: &str) -> Result<Self, String> {
        let mut engine = engine_with_module("sigstore.rego", source, true)?;
        // Evaluating once prepares the engine; clones then skip preparation.
        engine.set_input(RegoValue::new_object());
        let _ = engine.eval_rule("data.sigstore.isCompliant".to_string());
        Ok(Self { engine })
    }

    /// `Ok(None)` when compliant, `Ok(Some(warning))` when compliant with a warning, `Err`
    /// with upstream's wording otherwise.
    pub fn evaluate(&self, input: &Value) -> Result<Compliance, String> {
        let mut engine = self.engine.clone();
        engine.set_input(to_rego(input));
        let not_compliant = || format!("policy is not compliant for query '{SIGSTORE_QUERY}'");
        let result = engine
            .eval_rule("data.sigstore.isCompliant".to_string())
            .map_err(|e| format!("{}: {}", not_compliant(), one_line(&e.to_string())))?;
        match result {
            RegoValue::Bool(true) => Ok(None),
            RegoValue::Set(items) => evaluate_results(items.iter()),
            RegoValue::Array(items) => evaluate_results(items.iter()),
            _ => Err(not_compliant()),
        }
    }
}

/// regorus errors quote the source over several lines.
pub(crate) fn one_line(s: &str) -> String {
    s.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

fn evaluate_results<'a>(items: impl Iterator<Item = &'a RegoValue>) -> Result<Compliance, String> {
    let mut error = None;
    for item in items {
        let RegoValue::Object(fields) = item else {
            return Err(format!("policy is not compliant for query '{SIGSTORE_QUERY}': unexpected result type"));
        };
        let text = |k: &str| match fields.get(&RegoValue::from(k)) {
            Some(RegoValue::String(s)) => s.to_string(),
            _ => String::new(),
        };
        if matches!(fields.get(&RegoValue::from("result")), Some(RegoValue::Bool(true))) {
            let warning = text("warning");
            return Ok((!warning.is_empty()).then(|| format!("warning: {warning}")));
        }
        error = Some(text("error"));
    }
    Err(match error {
        Some(e) => format!("policy is not compliant for query '{SIGSTORE_QUERY}' with errors: {e}"),
        None => format!("policy is not compliant for query \"{SIGSTORE_QUERY}\""),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn upstream_e2e_module_v0_syntax() {
        let module = r#"package sigstore
default isCompliant = false
isCompliant {
  input.predicateType == "https://cosign.sigstore.dev/attestation/v1"
  input.predicate.Data == "foobar e2e test"
}
"#;
        let p = SigstoreRego::compile(module).unwrap();
        let good = json!({"predicateType": "https://cosign.sigstore.dev/attestation/v1", "predicate": {"Data": "foobar e2e test"}});
        assert_eq!(p.evaluate(&good), Ok(None));
        let bad = json!({"predicateType": "https://cosign.sigstore.dev/attestation/v1", "predicate": {"Data": "x"}});
        assert_eq!(
            p.evaluate(&bad).unwrap_err(),
            "policy is not compliant for query 'isCompliant = data.sigstore.isCompliant'"
        );
    }

    #[test]
    fn result_objects_with_warnings_and_errors() {
        let module = r#"package sigstore
import rego.v1
isCompliant contains {"result": ok, "warning": w, "error": e} if {
  ok := input.score < 5
  w := "score is close to the limit"
  e := sprintf("score %v too high", [input.score])
}
"#;
        let p = SigstoreRego::compile(module).unwrap();
        assert_eq!(p.evaluate(&json!({"score": 3})), Ok(Some("warning: score is close to the limit".into())));
        assert!(p.evaluate(&json!({"score": 9})).unwrap_err().ends_with("with errors: score 9 too high"));
        assert!(SigstoreRego::compile("package sigstore\nisCompliant {").is_err());
    }
}
