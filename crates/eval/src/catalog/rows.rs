//! Turning per-resource check results into evaluation rows, control by control.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use tarn_model::{EvaluationRow, Status};

use super::{Catalog, Control, DefaultStatus};

/// What one resource (one container of a workload, or one object) is. Non-workload objects
/// have an empty container and image; cluster-scoped objects an empty namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceRef {
    pub namespace: String,
    /// `Deployment`, `ClusterRole`, `Namespace`, …
    pub kind: String,
    pub name: String,
    pub container: String,
    pub image: String,
    /// `sha256:<hex>` when known.
    pub image_digest: String,
}

/// What one check concluded about one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    pub check_id: Cow<'static, str>,
    /// Shared between the results of one resource.
    pub resource: Arc<ResourceRef>,
    /// [`Status::Pass`], [`Status::Fail`], [`Status::Skip`] (no evidence) or [`Status::Error`]
    /// (the resource could not be read).
    pub status: Status,
    /// Why it failed or was skipped; empty for a pass.
    pub message: String,
}

impl CheckResult {
    pub fn new(check_id: &'static str, resource: &Arc<ResourceRef>, failure: Option<String>) -> CheckResult {
        let (status, message) = match failure {
            Some(m) => (Status::Fail, m),
            None => (Status::Pass, String::new()),
        };
        CheckResult { check_id: Cow::Borrowed(check_id), resource: Arc::clone(resource), status, message }
    }

    pub fn with_status(
        check_id: &'static str,
        resource: &Arc<ResourceRef>,
        status: Status,
        message: impl Into<String>,
    ) -> CheckResult {
        CheckResult {
            check_id: Cow::Borrowed(check_id),
            resource: Arc::clone(resource),
            status,
            message: message.into(),
        }
    }
}

#[derive(Default)]
struct Verdict {
    failures: Vec<String>,
    errors: Vec<String>,
    skips: Vec<String>,
    passed: bool,
}

impl Verdict {
    fn add(&mut self, r: &CheckResult) {
        match r.status {
            Status::Fail | Status::Warn => self.failures.push(format!("{}: {}", r.check_id, r.message)),
            Status::Error => self.errors.push(format!("{}: {}", r.check_id, r.message)),
            Status::Skip => {
                if !self.skips.contains(&r.message) {
                    self.skips.push(r.message.clone());
                }
            }
            Status::Pass => self.passed = true,
        }
    }

    /// A failing check fails the control; an unreadable resource is an error; one pass is
    /// enough otherwise; a resource with only skipped checks is skipped.
    fn outcome(self) -> (Status, String) {
        if !self.failures.is_empty() {
            (Status::Fail, self.failures.join("; "))
        } else if !self.errors.is_empty() {
            (Status::Error, self.errors.join("; "))
        } else if self.passed {
            (Status::Pass, String::new())
        } else {
            (Status::Skip, self.skips.join("; "))
        }
    }
}

/// Rows for every control of `catalog`: one per (resource, container, control) that any of the
/// control's checks reported on. A control without checks yields one row with empty workload
/// fields: its `defaultStatus` (PASS → pass, FAIL → fail) or `skip` with `manual: <reason>`.
/// A control whose checks reported nothing yields one such row too: its `defaultStatus`, or
/// `skip` "no resources in scope".
pub fn to_rows(
    catalog: &Catalog,
    framework: &str,
    framework_version: &str,
    results: &[CheckResult],
) -> Vec<EvaluationRow> {
    let mut by_check: HashMap<&str, Vec<&CheckResult>> = HashMap::new();
    for r in results {
        by_check.entry(r.check_id.as_ref()).or_default().push(r);
    }
    let mut rows = Vec::new();
    for control in &catalog.spec.controls {
        let row = |res: &ResourceRef, status: Status, message: String| EvaluationRow {
            namespace: res.namespace.clone(),
            workload_kind: res.kind.clone(),
            workload_name: res.name.clone(),
            container: res.container.clone(),
            image: res.image.clone(),
            image_digest: res.image_digest.clone(),
            framework: framework.to_string(),
            framework_version: framework_version.to_string(),
            control_id: control.id.clone(),
            status,
            severity: control.severity.into(),
            message,
        };
        if control.is_manual() {
            let reason = control.manual.as_deref().unwrap_or("no automated check");
            let (status, message) = defaulted(control, format!("manual: {reason}"));
            rows.push(row(&ResourceRef::default(), status, message));
            continue;
        }
        let mut per_resource: BTreeMap<&ResourceRef, Verdict> = BTreeMap::new();
        for check in &control.checks {
            for r in by_check.get(check.id.as_str()).into_iter().flatten() {
                per_resource.entry(r.resource.as_ref()).or_default().add(r);
            }
        }
        if per_resource.is_empty() {
            let checks: Vec<&str> = control.checks.iter().map(|c| c.id.as_str()).collect();
            let (status, message) = defaulted(control, format!("no resources in scope ({})", checks.join(", ")));
            rows.push(row(&ResourceRef::default(), status, message));
            continue;
        }
        for (res, verdict) in per_resource {
            let (status, message) = verdict.outcome();
            rows.push(row(res, status, message));
        }
    }
    rows
}

fn defaulted(control: &Control, skip_message: String) -> (Status, String) {
    match control.default_status {
        Some(DefaultStatus::Pass) => (Status::Pass, String::new()),
        Some(DefaultStatus::Fail) => (Status::Fail, format!("default status ({skip_message})")),
        None => (Status::Skip, skip_message),
    }
}
