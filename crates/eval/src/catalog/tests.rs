//! Catalog reading and writing (against the upstream trivy specs), validation, and the mapping
//! from check results to rows.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_yaml_ng::Value;
use tarn_model::{Severity, Status};

use super::*;

fn trivy_specs() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/trivy-checks/pkg/compliance");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

/// Drops `null` values and empty lists, which the reader treats as absent, and compares
/// numbers by their text: trivy (Go) and Tarn read an unquoted `id: 2.1` as the string "2.1".
fn normalized(v: Value) -> Value {
    match v {
        Value::Number(n) => Value::String(n.to_string()),
        Value::Mapping(m) => Value::Mapping(
            m.into_iter()
                .filter(|(_, v)| !v.is_null() && !matches!(v, Value::Sequence(s) if s.is_empty()))
                .map(|(k, v)| (k, normalized(v)))
                .collect(),
        ),
        Value::Sequence(s) => Value::Sequence(s.into_iter().map(normalized).collect()),
        other => other,
    }
}

/// Path of the first place where `a` and `b` differ.
fn first_difference(a: &Value, b: &Value, at: &str) -> Option<String> {
    match (a, b) {
        (Value::Mapping(x), Value::Mapping(y)) => {
            for (k, v) in x {
                let here = format!("{at}.{}", k.as_str().unwrap_or("?"));
                match y.get(k) {
                    None => return Some(format!("{here} (missing)")),
                    Some(w) => {
                        if let Some(d) = first_difference(v, w, &here) {
                            return Some(d);
                        }
                    }
                }
            }
            y.keys().find(|k| !x.contains_key(*k)).map(|k| format!("{at}.{} (added)", k.as_str().unwrap_or("?")))
        }
        (Value::Sequence(x), Value::Sequence(y)) if x.len() == y.len() => {
            x.iter().zip(y).enumerate().find_map(|(i, (v, w))| first_difference(v, w, &format!("{at}[{i}]")))
        }
        _ => (a != b).then(|| format!("{at}: {a:?} != {b:?}")),
    }
}

#[test]
fn reads_and_writes_every_upstream_trivy_spec() {
    let files = trivy_specs();
    assert_eq!(files.len(), 6, "fixtures/trivy-checks/pkg/compliance is incomplete");
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let catalog = Catalog::from_path(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(!catalog.spec.controls.is_empty(), "{}", path.display());
        let written = catalog.to_yaml().unwrap();
        let again = Catalog::from_yaml_str("written", &written).unwrap();
        assert_eq!(again, catalog, "{}: round trip changed the catalog", path.display());
        let original: Value = serde_yaml_ng::from_str(&text).unwrap();
        let back: Value = serde_yaml_ng::from_str(&written).unwrap();
        if let Some(at) = first_difference(&normalized(original), &normalized(back), "") {
            panic!("{}: a field was lost or changed at {at}", path.display());
        }
    }
}

#[test]
fn upstream_details_survive() {
    let nsa = Catalog::from_path(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/trivy-checks/pkg/compliance/k8s-nsa-1.0.yaml"),
    )
    .unwrap();
    let c = nsa.control("3.0").unwrap();
    assert!(c.is_manual() && c.default_status == Some(DefaultStatus::Fail));
    assert_eq!(c.severity, ControlSeverity::Critical);
    let cis = Catalog::from_path(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/trivy-checks/pkg/compliance/k8s-cis-1.23.yaml"),
    )
    .unwrap();
    assert_eq!(cis.control("1.1.1").unwrap().commands[0].id, "CMD-0001");
    assert!(cis.control("5.4.1").unwrap().is_manual());
    assert_eq!(cis.control("5.1.3").unwrap().checks.len(), 3);
}

#[test]
fn builtin_catalogs_are_complete_and_strict() {
    for (name, _) in BUILTIN {
        let c = builtin(name).unwrap();
        assert!(c.spec.other.is_empty(), "{name}: unknown spec fields {:?}", c.spec.other.keys());
        for control in &c.spec.controls {
            let at = format!("{name} {}", control.id);
            assert!(control.other.is_empty(), "{at}: unknown fields {:?}", control.other.keys());
            assert!(control.checks.iter().all(|k| k.other.is_empty()), "{at}");
            assert!(!control.description.is_empty(), "{at}: no description");
            assert!(control.remediation.as_deref().is_some_and(|r| !r.is_empty()), "{at}: no remediation");
            assert_eq!(control.is_manual(), control.manual.is_some(), "{at}: manual controls name a reason");
        }
    }
    assert!(builtin("cis-k8s-1.8").is_none());
}

#[test]
fn invalid_catalogs_are_rejected_with_a_location() {
    let err = Catalog::from_yaml_str("x.yaml", "spec:\n  id: a\n  title: t\n  version: '1'\n  platform: k8s\n  type: cis\n  controls:\n  - id: '1'\n    name: n\n    severity: SEVERE\n")
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("invalid catalog x.yaml:10:"), "{msg}");
    assert!(msg.contains("spec.controls[0].severity"), "{msg}");

    let dup = "spec:\n  id: a\n  title: t\n  version: '1'\n  platform: k8s\n  type: cis\n  controls:\n  - {id: '1', name: a, severity: LOW}\n  - {id: '1', name: b, severity: LOW}\n";
    assert!(Catalog::from_yaml_str("d", dup).unwrap_err().to_string().contains("duplicate control id"));
    let manual = "spec:\n  id: a\n  title: t\n  version: '1'\n  platform: k8s\n  type: cis\n  controls:\n  - {id: '1', name: a, severity: LOW, manual: why, checks: [{id: K}]}\n";
    assert!(Catalog::from_yaml_str("m", manual).unwrap_err().to_string().contains("manual control cannot have checks"));

    let missing = Catalog::from_path(Path::new("/nonexistent/catalog.yaml")).unwrap_err();
    assert!(matches!(missing, CatalogError::Io { .. }), "{missing}");
}

fn test_catalog() -> Catalog {
    Catalog::from_yaml_str(
        "t",
        r#"
spec:
  id: t-1
  title: Test
  version: "1"
  platform: k8s
  type: cis
  controls:
  - {id: "1", name: Privileged, checks: [{id: A}, {id: B}], severity: HIGH}
  - {id: "2", name: Human, severity: LOW, manual: needs eyes}
  - {id: "3", name: Defaulted, severity: MEDIUM, defaultStatus: FAIL}
  - {id: "4", name: Nothing in scope, checks: [{id: C}], severity: LOW}
  - {id: "5", name: Nothing but passes, checks: [{id: C}], severity: LOW, defaultStatus: PASS}
  - {id: "6", name: Evidence, checks: [{id: D}], severity: CRITICAL}
"#,
    )
    .unwrap()
}

fn res(kind: &str, name: &str, container: &str) -> Arc<ResourceRef> {
    Arc::new(ResourceRef {
        namespace: "ns".into(),
        kind: kind.into(),
        name: name.into(),
        container: container.into(),
        image: if container.is_empty() { String::new() } else { "img".into() },
        image_digest: String::new(),
    })
}

#[test]
fn rows_follow_the_controls() {
    let (web_a, web_b, role) = (res("Deployment", "web", "a"), res("Deployment", "web", "b"), res("Role", "r", ""));
    let results = vec![
        CheckResult::new("A", &web_a, Some("a is privileged".into())),
        CheckResult::new("B", &web_a, Some("a is also bad".into())),
        CheckResult::new("A", &web_b, None),
        CheckResult::new("B", &web_b, None),
        CheckResult::new("A", &role, None),
        CheckResult::with_status("D", &web_a, Status::Skip, "no evidence for img"),
        CheckResult::with_status("D", &web_b, Status::Error, "unreadable"),
        CheckResult::new("Z", &web_a, Some("not in the catalog".into())),
    ];
    let rows = to_rows(&test_catalog(), "test", "1", &results);
    let got: Vec<(&str, &str, &str, Status, &str)> = rows
        .iter()
        .map(|r| (r.control_id.as_str(), r.workload_name.as_str(), r.container.as_str(), r.status, r.message.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("1", "web", "a", Status::Fail, "A: a is privileged; B: a is also bad"),
            ("1", "web", "b", Status::Pass, ""),
            ("1", "r", "", Status::Pass, ""),
            ("2", "", "", Status::Skip, "manual: needs eyes"),
            ("3", "", "", Status::Fail, "default status (manual: no automated check)"),
            ("4", "", "", Status::Skip, "no resources in scope (C)"),
            ("5", "", "", Status::Pass, ""),
            ("6", "web", "a", Status::Skip, "no evidence for img"),
            ("6", "web", "b", Status::Error, "D: unreadable"),
        ]
    );
    let first = &rows[0];
    assert_eq!((first.framework.as_str(), first.framework_version.as_str()), ("test", "1"));
    assert_eq!(
        (first.workload_kind.as_str(), first.image.as_str(), first.namespace.as_str()),
        ("Deployment", "img", "ns")
    );
    assert_eq!(first.severity, Severity::High);
    assert_eq!(rows[3].severity, Severity::Low);
    assert_eq!(rows[2].workload_kind, "Role");
}

#[test]
fn check_ids_are_listed_once() {
    assert_eq!(test_catalog().check_ids(), ["A", "B", "C", "D"]);
}
