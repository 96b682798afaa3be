//! Custom controls written in Rego, evaluated like built-in controls.
//!
//! # Convention
//!
//! A custom policy is one `.rego` module (Rego v1 syntax; v0 is accepted too):
//!
//! ```rego
//! package tarn.custom.no_latest_tag          # name: what follows `tarn.custom.`
//! import rego.v1
//!
//! # Optional: control id (default `custom.<name>`), title, severity
//! # (critical|high|medium|low|info, default medium).
//! metadata := {"id": "ORG-IMG-1", "title": "Images are pinned", "severity": "high"}
//!
//! # Each message fails the control; a message is a string or
//! # {"msg": string, "id": string, "severity": string} to override per finding.
//! deny contains msg if {
//!     some c in input.containers
//!     endswith(c.image, ":latest")
//!     msg := sprintf("container %s uses a :latest tag", [c.name])
//! }
//!
//! # Each message is a warning.
//! warn contains msg if { count(input.containers) > 10; msg := "many containers" }
//! ```
//!
//! With no `deny` or `warn` message the control passes (one `pass` finding). `input` is
//! whatever the caller passes; for workloads it is [`workload_input`]: `kind`, `apiVersion`,
//! `name`, `namespace`, `labels`, `object` (the manifest) and `containers` (`name`, `image`,
//! `digest`), plus `evidence` when the caller adds it.

use std::path::Path;

use regorus::{Engine, Value as RegoValue};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tarn_model::{EvaluationRow, Severity, Status};

use super::rego::{engine_with_module, one_line, to_rego};
use crate::inventory::{Inventory, Workload, digest_of};

/// Package prefix every custom policy lives under.
pub const PACKAGE_PREFIX: &str = "tarn.custom.";

/// Framework name of custom-control rows.
pub const CUSTOM_FRAMEWORK: &str = "custom";

/// One result of a custom control.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub id: String,
    /// `pass`, `fail` or `warn`.
    pub status: Status,
    pub message: String,
    pub severity: Severity,
}

/// A compiled custom Rego control.
#[derive(Debug, Clone)]
pub struct RegoPolicy {
    /// What follows `tarn.custom.` in the package name.
    pub name: String,
    pub source_path: String,
    /// The module text.
    pub module: String,
    pub id: String,
    pub title: Option<String>,
    pub severity: Severity,
    engine: Engine,
}

/// `critical|high|medium|low|info`.
pub fn parse_severity(s: &str) -> Option<Severity> {
    Some(match s.to_ascii_lowercase().as_str() {
        "critical" => Severity::Critical,
        "high" => Severity::High,
        "medium" => Severity::Medium,
        "low" => Severity::Low,
        "info" => Severity::Info,
        _ => return None,
    })
}

fn text(v: &RegoValue, key: &str) -> Option<String> {
    match v {
        RegoValue::Object(m) => match m.get(&RegoValue::from(key)) {
            Some(RegoValue::String(s)) => Some(s.to_string()),
            _ => None,
        },
        _ => None,
    }
}

impl RegoPolicy {
    /// Compiles a module; it must declare `package tarn.custom.<name>`.
    pub fn from_source(source_path: &str, module: &str) -> Result<Self, String> {
        let mut engine = engine_with_module(source_path, module, false).map_err(|e| one_line(&e))?;
        let package = engine.get_packages().map_err(|e| e.to_string())?.into_iter().next().unwrap_or_default();
        let package = package.strip_prefix("data.").unwrap_or(&package).to_string();
        let Some(name) = package.strip_prefix(PACKAGE_PREFIX).filter(|n| !n.is_empty()).map(str::to_string) else {
            return Err(format!("package {package:?} is not under {PACKAGE_PREFIX}<name>"));
        };
        engine.set_input(RegoValue::new_object());
        let metadata = query(&mut engine, &format!("data.{package}.metadata"))?;
        let severity = match metadata.as_ref().and_then(|m| text(m, "severity")) {
            Some(s) => parse_severity(&s)
                .ok_or_else(|| format!("metadata.severity {s:?} is not critical|high|medium|low|info"))?,
            None => Severity::Medium,
        };
        Ok(Self {
            id: metadata.as_ref().and_then(|m| text(m, "id")).unwrap_or_else(|| format!("custom.{name}")),
            title: metadata.as_ref().and_then(|m| text(m, "title")),
            severity,
            name,
            source_path: source_path.to_string(),
            module: module.to_string(),
            engine,
        })
    }

    /// Reads and compiles a `.rego` file.
    pub fn load(path: &Path) -> Result<Self, String> {
        let module = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::from_source(&path.display().to_string(), &module)
    }

    /// Evaluates the control over `input`.
    pub fn evaluate(&self, input: &Value) -> Result<Vec<Finding>, String> {
        let mut engine = self.engine.clone();
        engine.set_input(to_rego(input));
        let pkg = format!("data.{PACKAGE_PREFIX}{}", self.name);
        let mut findings = Vec::new();
        for (rule, status) in [("deny", Status::Fail), ("warn", Status::Warn)] {
            let Some(v) = query(&mut engine, &format!("{pkg}.{rule}"))? else { continue };
            let items: Vec<RegoValue> = match v {
                RegoValue::Set(s) => s.iter().cloned().collect(),
                RegoValue::Array(a) => a.iter().cloned().collect(),
                RegoValue::Bool(false) | RegoValue::Undefined => Vec::new(),
                other => vec![other],
            };
            for item in items {
                findings.push(self.finding(&item, status)?);
            }
        }
        if findings.is_empty() {
            findings.push(Finding {
                id: self.id.clone(),
                status: Status::Pass,
                message: String::new(),
                severity: self.severity,
            });
        }
        Ok(findings)
    }

    fn finding(&self, item: &RegoValue, status: Status) -> Result<Finding, String> {
        let (message, id, severity) = match item {
            RegoValue::String(s) => (s.to_string(), None, None),
            RegoValue::Object(_) => (
                text(item, "msg").unwrap_or_default(),
                text(item, "id"),
                text(item, "severity").and_then(|s| parse_severity(&s)),
            ),
            other => (other.to_json_str().unwrap_or_default(), None, None),
        };
        Ok(Finding {
            id: id.unwrap_or_else(|| self.id.clone()),
            status,
            message,
            severity: severity.unwrap_or(self.severity),
        })
    }
}

/// The value of a rule, `None` when undefined or absent.
fn query(engine: &mut Engine, path: &str) -> Result<Option<RegoValue>, String> {
    let r = engine.eval_query(path.to_string(), false).map_err(|e| one_line(&e.to_string()))?;
    Ok(r.result
        .into_iter()
        .next()
        .and_then(|q| q.expressions.into_iter().next())
        .map(|e| e.value)
        .filter(|v| *v != RegoValue::Undefined))
}

/// The `input` a custom control sees for a workload.
pub fn workload_input(w: &Workload) -> Value {
    let containers: Vec<Value> = w
        .template
        .spec
        .all_containers()
        .map(|c| {
            let image = c.image.clone().unwrap_or_default();
            let digest = w.image_digests.get(&c.name).cloned().or_else(|| digest_of(&image));
            json!({"name": c.name, "image": image, "digest": digest})
        })
        .collect();
    json!({
        "kind": w.kind,
        "apiVersion": w.raw.get("apiVersion").cloned().unwrap_or(Value::Null),
        "name": w.name,
        "namespace": w.namespace,
        "labels": w.raw.pointer("/metadata/labels").cloned().unwrap_or_else(|| json!({})),
        "object": w.raw,
        "containers": containers,
    })
}

/// `sha256:<12 hex>` over the modules, the framework version of custom rows.
pub fn custom_version(policies: &[RegoPolicy]) -> String {
    let mut h = Sha256::new();
    for p in policies {
        h.update(p.module.as_bytes());
        h.update([0]);
    }
    format!("sha256:{}", &hex::encode(h.finalize())[..12])
}

/// Rows for every workload under every custom control: one per finding, workload-level
/// (empty container). A control that fails to evaluate gives one `error` row.
pub fn evaluate_custom_policies(policies: &[RegoPolicy], inv: &Inventory) -> Vec<EvaluationRow> {
    let version = custom_version(policies);
    let mut rows = Vec::new();
    for w in &inv.workloads {
        let input = workload_input(w);
        for p in policies {
            let findings = p.evaluate(&input).unwrap_or_else(|e| {
                vec![Finding { id: p.id.clone(), status: Status::Error, message: e, severity: p.severity }]
            });
            rows.extend(findings.into_iter().map(|f| EvaluationRow {
                namespace: w.namespace.clone(),
                workload_kind: w.kind.clone(),
                workload_name: w.name.clone(),
                container: String::new(),
                image: String::new(),
                image_digest: String::new(),
                framework: CUSTOM_FRAMEWORK.to_string(),
                framework_version: version.clone(),
                control_id: f.id,
                status: f.status,
                severity: f.severity,
                message: f.message,
            }));
        }
    }
    rows
}
