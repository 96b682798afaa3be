//! CIS Kubernetes Benchmark section 5 ("Policies"), versions 1.9 to 1.12.
//!
//! The controls of each version are data: `reports/catalogs/cis-k8s-<version>.yaml` (ids and
//! titles from kube-bench, checks mapped to trivy-checks ids where one exists). This module
//! runs the checks those catalogs name over an [`Inventory`] and maps the results to rows
//! with [`catalog::to_rows`]:
//!
//! ```text
//! Inventory ──▶ Scope (ServiceAccounts, roles, namespaces)
//!                 ├─ workload::run  one result per (workload, container, check)
//!                 ├─ rbac::run      one per (Role/ClusterRole/binding, check)
//!                 └─ objects::run   ServiceAccounts, NetworkPolicies, namespaces, default ns
//!                         ▼
//!         catalog::to_rows(cis-k8s-<version>) ──▶ Vec<EvaluationRow>
//! ```
//!
//! Controls that need a human (5.2.1, 5.3.1, 5.4.2, 5.7.1/5.6.1) are `manual` in the catalogs
//! and yield one `skip` row naming the reason. 5.5.1 (image provenance) is judged by a hook
//! the image-evidence side provides ([`CisContext::image_provenance`]); without it the control
//! is skipped with `manual: no image evidence configured`.
//!
//! ```
//! use tarn_eval::cis::{CisContext, CisVersion, evaluate_cis};
//! use tarn_eval::inventory::read_sources;
//! let inv = read_sources([("p.yaml", b"kind: Pod\nmetadata: {name: p, namespace: shop}\nspec:\n  hostPID: true\n  containers: [{name: c, image: busybox}]\n".as_slice())]);
//! let rows = evaluate_cis("1.10".parse().unwrap(), &inv, &CisContext::default());
//! let host_pid = rows.iter().find(|r| r.control_id == "5.2.3").unwrap();
//! assert_eq!(host_pid.status, tarn_model::Status::Fail);
//! ```

use std::fmt;
use std::str::FromStr;

use tarn_model::EvaluationRow;

use crate::catalog::{self, Catalog, CheckResult};
use crate::inventory::{Inventory, Workload};
use crate::k8s::Container;

mod objects;
mod rbac;
mod scope;
mod workload;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_rbac;

/// The framework name CIS rows carry.
pub const FRAMEWORK: &str = "cis-k8s";

/// A CIS Kubernetes Benchmark version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CisVersion {
    V1_9,
    V1_10,
    V1_11,
    V1_12,
}

impl CisVersion {
    pub const ALL: [CisVersion; 4] = [CisVersion::V1_9, CisVersion::V1_10, CisVersion::V1_11, CisVersion::V1_12];
    /// What `latest` means.
    pub const LATEST: CisVersion = CisVersion::V1_12;

    /// `1.9`, `1.10`, …
    pub fn as_str(self) -> &'static str {
        match self {
            CisVersion::V1_9 => "1.9",
            CisVersion::V1_10 => "1.10",
            CisVersion::V1_11 => "1.11",
            CisVersion::V1_12 => "1.12",
        }
    }

    /// The version's built-in catalog (`reports/catalogs/cis-k8s-<version>.yaml`).
    pub fn catalog(self) -> &'static Catalog {
        let name = format!("{FRAMEWORK}-{}", self.as_str());
        catalog::builtin(&name).unwrap_or_else(|| panic!("built-in catalog {name} is missing"))
    }
}

impl fmt::Display for CisVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not a supported CIS version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown CIS Kubernetes Benchmark version {0:?} (expected 1.9, 1.10, 1.11, 1.12 or latest)")]
pub struct UnknownCisVersion(pub String);

impl FromStr for CisVersion {
    type Err = UnknownCisVersion;

    /// `1.9` | `1.10` | `1.11` | `1.12` | `latest` (= 1.12).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "latest" => Ok(CisVersion::LATEST),
            t => CisVersion::ALL.into_iter().find(|v| v.as_str() == t).ok_or_else(|| UnknownCisVersion(s.to_string())),
        }
    }
}

/// Reports whether one container's image has verified provenance: `Some((true, _))` verified,
/// `Some((false, reason))` not, `None` no evidence for that image.
pub type ImageProvenance<'a> = &'a (dyn Fn(&Workload, &Container) -> Option<(bool, String)> + Sync);

/// Evidence from outside the inventory.
#[derive(Default, Clone, Copy)]
pub struct CisContext<'a> {
    /// Judges 5.5.1 (check `TARN-IMG-PROVENANCE`); `None` leaves the control manual.
    pub image_provenance: Option<ImageProvenance<'a>>,
}

impl fmt::Debug for CisContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CisContext").field("image_provenance", &self.image_provenance.map(|_| "<hook>")).finish()
    }
}

/// Every check id this module implements.
pub fn check_ids() -> Vec<&'static str> {
    let mut ids: Vec<&'static str> = workload::CHECKS.iter().map(|(id, _)| *id).collect();
    ids.push(workload::PROVENANCE);
    ids.extend(rbac::role_check_ids());
    ids.extend(rbac::BINDING_CHECKS.iter().copied());
    ids.extend(objects::CHECK_IDS.iter().copied());
    ids
}

/// Runs every check over the inventory: one result per (resource, container, check) judged.
pub fn run_checks(inv: &Inventory, ctx: &CisContext<'_>) -> Vec<CheckResult> {
    let scope = scope::Scope::new(inv);
    let mut out = Vec::with_capacity(inv.workloads.len() * 2 * workload::CHECKS.len() + inv.objects.len() * 8);
    workload::run(&scope, ctx, &mut out);
    rbac::run(&scope, &mut out);
    objects::run(&scope, &mut out);
    out
}

/// Rows for every section-5 control of `version`. An inventory with no workloads and no
/// objects gets no rows: an empty cluster has nothing to judge, not 35 skipped controls.
pub fn evaluate_cis(version: CisVersion, inv: &Inventory, ctx: &CisContext<'_>) -> Vec<EvaluationRow> {
    evaluate_versions(&[version], inv, ctx)
}

/// [`evaluate_cis`] for several versions, running the checks once.
pub fn evaluate_versions(versions: &[CisVersion], inv: &Inventory, ctx: &CisContext<'_>) -> Vec<EvaluationRow> {
    if versions.is_empty() || (inv.workloads.is_empty() && inv.objects.is_empty()) {
        return Vec::new();
    }
    let results = run_checks(inv, ctx);
    versions.iter().flat_map(|v| rows_for(*v, &results)).collect()
}

/// Rows for `version` from results already computed by [`run_checks`] (several versions share
/// one run).
pub fn rows_for(version: CisVersion, results: &[CheckResult]) -> Vec<EvaluationRow> {
    catalog::to_rows(version.catalog(), FRAMEWORK, version.as_str(), results)
}
