//! Framework catalogs as data, in the trivy-checks compliance spec shape.
//!
//! A catalog lists a framework's controls: id, title, description, severity, the checks each
//! control maps to, and Tarn's two extensions, `remediation` (text) and `manual` (why a control
//! needs a human). trivy ignores the extensions, so Tarn's catalogs load in trivy
//! (`trivy k8s --compliance @reports/catalogs/cis-k8s-1.12.yaml`), and trivy's specs
//! (`pkg/compliance/*.yaml`) load here unchanged and write back without losing a field.
//!
//! ```text
//! reports/catalogs/*.yaml ──include_str!──▶ builtin(name) ─┐
//! user file ──────────────▶ Catalog::from_path ────────────┤
//!                                                          ▼
//! evaluator ──▶ Vec<CheckResult> ──▶ to_rows(catalog, …) ──▶ Vec<EvaluationRow>
//! ```
//!
//! ```
//! use tarn_eval::catalog;
//! let cis = catalog::builtin("cis-k8s-1.12").unwrap();
//! let c = cis.control("5.2.2").unwrap();
//! assert_eq!(c.checks[0].id, "KSV-0017");
//! assert!(cis.control("5.3.1").unwrap().manual.is_some());
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use serde::{Deserialize, Deserializer, Serialize};
use tarn_model::Severity;

mod rows;
#[cfg(test)]
mod tests;

pub use rows::{CheckResult, ResourceRef, to_rows};

/// Catalogs shipped with Tarn (`reports/catalogs/<name>.yaml`), by name.
pub const BUILTIN: &[(&str, &str)] = &[
    ("cis-k8s-1.9", include_str!("../../../../reports/catalogs/cis-k8s-1.9.yaml")),
    ("cis-k8s-1.10", include_str!("../../../../reports/catalogs/cis-k8s-1.10.yaml")),
    ("cis-k8s-1.11", include_str!("../../../../reports/catalogs/cis-k8s-1.11.yaml")),
    ("cis-k8s-1.12", include_str!("../../../../reports/catalogs/cis-k8s-1.12.yaml")),
    ("pss-baseline", include_str!("../../../../reports/catalogs/pss-baseline.yaml")),
    ("pss-restricted", include_str!("../../../../reports/catalogs/pss-restricted.yaml")),
    ("slsa-v1.0", include_str!("../../../../reports/catalogs/slsa-v1.0.yaml")),
];

static PARSED: LazyLock<BTreeMap<&'static str, Catalog>> = LazyLock::new(|| {
    BUILTIN
        .iter()
        .map(|(name, text)| {
            // The shipped catalogs are checked by the tests; a bad one is a build defect.
            let c = Catalog::from_yaml_str(name, text).unwrap_or_else(|e| panic!("built-in catalog: {e}"));
            (*name, c)
        })
        .collect()
});

/// A built-in catalog by name (`cis-k8s-1.10`, `pss-baseline`, …).
pub fn builtin(name: &str) -> Option<&'static Catalog> {
    PARSED.get(name)
}

/// A control of a built-in catalog as result rows name it.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedControl<'a> {
    /// The `framework` column of result rows (`cis-k8s`, `pss-baseline`, `slsa`).
    pub framework: &'static str,
    /// The catalog's version: the `framework_version` of CIS and SLSA rows. PSS rows carry
    /// the policy version they were evaluated at (`v1.29`), and the one catalog covers them all.
    pub version: &'a str,
    pub control: &'a Control,
}

/// Every control of every built-in catalog, named the way result rows name them.
pub fn builtin_controls() -> Vec<NamedControl<'static>> {
    let mut out = Vec::new();
    for (name, catalog) in PARSED.iter() {
        let framework = if name.starts_with("cis-k8s-") {
            crate::cis::FRAMEWORK
        } else if name.starts_with("slsa-") {
            crate::slsa::FRAMEWORK
        } else if *name == "pss-baseline" {
            "pss-baseline"
        } else if *name == "pss-restricted" {
            "pss-restricted"
        } else {
            continue;
        };
        let version = if framework == crate::slsa::FRAMEWORK {
            crate::slsa::FRAMEWORK_VERSION
        } else {
            catalog.spec.version.as_str()
        };
        out.extend(catalog.spec.controls.iter().map(|control| NamedControl { framework, version, control }));
    }
    out
}

/// A compliance catalog: the document's top-level `spec:`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Catalog {
    pub spec: Spec,
}

/// `spec:` of a catalog.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Spec {
    /// `{platform}-{type}-{version}`, e.g. `k8s-cis-1.12`.
    pub id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub version: String,
    /// `k8s`, `eks`, `rke2`, …
    pub platform: String,
    /// `cis`, `nsa`, `pss`, …
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(
        rename = "relatedResources",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub related_resources: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub controls: Vec<Control>,
    /// Fields this reader does not know, kept so a catalog writes back unchanged.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_yaml_ng::Value>,
}

/// One control of a catalog.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Control {
    /// The benchmark's number as a string, e.g. `5.2.2`.
    pub id: String,
    /// Title.
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Checks whose results decide the control; empty (or `null`) for manual controls.
    #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckRef>,
    /// trivy node-collector commands (`CMD-xxxx`); Tarn does not run them.
    #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<CheckRef>,
    /// The control's severity; it overrides the severities of its checks.
    pub severity: ControlSeverity,
    /// The status reported when no check produced a result (or the control has no checks).
    #[serde(rename = "defaultStatus", default, skip_serializing_if = "Option::is_none")]
    pub default_status: Option<DefaultStatus>,
    /// Tarn extension: what to do about a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<String>,
    /// Tarn extension: why the control needs a human (controls without checks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual: Option<String>,
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_yaml_ng::Value>,
}

/// A reference to a check (`KSV-0017`, `TARN-CIS-SECRET-ENV`) or a node-collector command.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct CheckRef {
    pub id: String,
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_yaml_ng::Value>,
}

/// Severity as trivy writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ControlSeverity {
    Low,
    Medium,
    High,
    Critical,
}

impl From<ControlSeverity> for Severity {
    fn from(s: ControlSeverity) -> Severity {
        match s {
            ControlSeverity::Low => Severity::Low,
            ControlSeverity::Medium => Severity::Medium,
            ControlSeverity::High => Severity::High,
            ControlSeverity::Critical => Severity::Critical,
        }
    }
}

/// `defaultStatus` of a control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
pub enum DefaultStatus {
    #[serde(rename = "PASS")]
    Pass,
    #[serde(rename = "FAIL")]
    Fail,
}

/// A catalog that cannot be read or is inconsistent.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot read catalog {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("invalid catalog {source_name}{}{}: {message}", at(*line, *column), field.as_ref().map(|f| format!(": field {f}")).unwrap_or_default())]
    Parse { source_name: String, line: Option<usize>, column: Option<usize>, field: Option<String>, message: String },
    #[error("invalid catalog {catalog}: control {control:?}: {reason}")]
    Invalid { catalog: String, control: String, reason: String },
    #[error("cannot write catalog {catalog}: {message}")]
    Write { catalog: String, message: String },
}

fn at(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(":{l}:{c}"),
        (Some(l), None) => format!(":{l}"),
        _ => String::new(),
    }
}

impl Catalog {
    /// Parses a catalog (one YAML document) and checks it is consistent; `source_name` names it
    /// in errors.
    pub fn from_yaml_str(source_name: &str, text: &str) -> Result<Catalog, CatalogError> {
        let de = serde_yaml_ng::Deserializer::from_str(text);
        let catalog: Catalog = serde_path_to_error::deserialize(de).map_err(|e| {
            let field = Some(e.path().to_string()).filter(|p| p != ".");
            let inner = e.into_inner();
            let loc = inner.location();
            CatalogError::Parse {
                source_name: source_name.to_string(),
                line: loc.as_ref().map(|l| l.line()),
                column: loc.as_ref().map(|l| l.column()),
                field,
                message: inner.to_string(),
            }
        })?;
        catalog.validate()?;
        Ok(catalog)
    }

    /// Reads a catalog file.
    pub fn from_path(path: &Path) -> Result<Catalog, CatalogError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| CatalogError::Io { path: path.to_path_buf(), source })?;
        Catalog::from_yaml_str(&path.display().to_string(), &text)
    }

    /// The catalog as YAML, in the same shape it was read.
    pub fn to_yaml(&self) -> Result<String, CatalogError> {
        serde_yaml_ng::to_string(self)
            .map_err(|e| CatalogError::Write { catalog: self.spec.id.clone(), message: e.to_string() })
    }

    /// Control ids are unique and non-empty, and a control that names a manual reason has no
    /// checks.
    pub fn validate(&self) -> Result<(), CatalogError> {
        let invalid = |control: &str, reason: &str| CatalogError::Invalid {
            catalog: self.spec.id.clone(),
            control: control.to_string(),
            reason: reason.to_string(),
        };
        let mut seen = BTreeSet::new();
        for c in &self.spec.controls {
            if c.id.trim().is_empty() {
                return Err(invalid(&c.name, "empty id"));
            }
            if !seen.insert(c.id.as_str()) {
                return Err(invalid(&c.id, "duplicate control id"));
            }
            if c.manual.is_some() && !c.checks.is_empty() {
                return Err(invalid(&c.id, "a manual control cannot have checks"));
            }
            if c.checks.iter().any(|k| k.id.trim().is_empty()) {
                return Err(invalid(&c.id, "empty check id"));
            }
        }
        Ok(())
    }

    /// The control with this id.
    pub fn control(&self, id: &str) -> Option<&Control> {
        self.spec.controls.iter().find(|c| c.id == id)
    }

    /// Every check id the catalog refers to, once each, in first-use order.
    pub fn check_ids(&self) -> Vec<&str> {
        let mut seen = BTreeSet::new();
        self.spec
            .controls
            .iter()
            .flat_map(|c| c.checks.iter().map(|k| k.id.as_str()))
            .filter(|id| seen.insert(*id))
            .collect()
    }
}

impl Control {
    /// `true` when no check decides the control.
    pub fn is_manual(&self) -> bool {
        self.checks.is_empty()
    }
}

/// Decodes `null` (and, with `#[serde(default)]`, an absent field) as `T::default()`, as trivy
/// does for `checks: null`.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}
