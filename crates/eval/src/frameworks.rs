//! Frameworks an inventory can be judged against, and turning verdicts into evaluation rows.
//!
//! PSS judges each workload on its own ([`Framework::evaluate`], [`to_rows`]); CIS judges the
//! inventory as a whole (RBAC, namespaces, service accounts). [`evaluate`] runs any mix.

use std::fmt;
use std::str::FromStr;

use tarn_model::{EvaluationRow, Severity, Status};

use crate::catalog;
use crate::cis::{self, CisContext, CisVersion};
use crate::inventory::{Inventory, Workload};
use crate::pss::{self, CheckVerdict, Implicated, Level, Policy, Version};

/// A framework at a version, e.g. `pss-restricted@v1.30`, `cis-k8s@1.10`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framework {
    Pss(Policy),
    Cis(CisVersion),
}

#[derive(Debug, thiserror::Error)]
#[error(
    "unknown framework {0:?} (expected pss-baseline or pss-restricted, optionally @v1.N or @latest, or cis-k8s, optionally @1.9, @1.10, @1.11, @1.12 or @latest)"
)]
pub struct UnknownFramework(String);

impl FromStr for Framework {
    type Err = UnknownFramework;
    fn from_str(s: &str) -> Result<Self, UnknownFramework> {
        let err = || UnknownFramework(s.to_string());
        let (name, version) = match s.split_once(['@', ':']) {
            Some((n, v)) => (n, Some(v)),
            None => (s, None),
        };
        if name == cis::FRAMEWORK {
            let v = version.map_or(Ok(CisVersion::LATEST), str::parse).map_err(|_| err())?;
            return Ok(Framework::Cis(v));
        }
        let version = version.map_or(Ok(Version::latest()), str::parse).map_err(|_| err())?;
        let level = match name {
            "pss-baseline" => Level::Baseline,
            "pss-restricted" => Level::Restricted,
            _ => return Err(err()),
        };
        Ok(Framework::Pss(Policy::new(level, version)))
    }
}

impl fmt::Display for Framework {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name(), self.version())
    }
}

impl Framework {
    /// What `tarn agent scan` evaluates when no framework is named: PSS baseline and
    /// restricted, and CIS, each at its latest version.
    pub fn defaults() -> Vec<Framework> {
        vec![
            Framework::Pss(Policy::new(Level::Baseline, Version::latest())),
            Framework::Pss(Policy::new(Level::Restricted, Version::latest())),
            Framework::Cis(CisVersion::LATEST),
        ]
    }

    pub fn name(&self) -> &'static str {
        match self {
            Framework::Pss(p) => match p.level {
                Level::Baseline => "pss-baseline",
                Level::Restricted => "pss-restricted",
            },
            Framework::Cis(_) => cis::FRAMEWORK,
        }
    }

    /// The concrete version evaluated (`latest` resolved), e.g. `v1.37`, `1.12`.
    pub fn version(&self) -> String {
        match self {
            Framework::Pss(p) => format!("v1.{}", p.version.resolved()),
            Framework::Cis(v) => v.as_str().to_string(),
        }
    }

    /// Evaluates one workload on its own; one verdict per control, in catalog order. Only PSS
    /// judges a workload alone: CIS needs the whole inventory (use [`evaluate`]), so this
    /// returns no verdicts for it.
    pub fn evaluate(&self, w: &Workload) -> Vec<CheckVerdict> {
        match self {
            Framework::Pss(p) => pss::evaluate(p, &w.template.metadata, &w.template.spec),
            Framework::Cis(_) => Vec::new(),
        }
    }
}

/// `sha256:<hex>` identifying the evaluated policy set: framework ids plus evaluator version.
pub fn policy_digest(frameworks: &[Framework]) -> String {
    let mut desc = format!("tarn-eval {}\n", env!("CARGO_PKG_VERSION"));
    for f in frameworks {
        desc.push_str(&f.to_string());
        desc.push('\n');
    }
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(desc.as_bytes())))
}

/// Severity of a PSS control, from the `pss-restricted` catalog (which holds every PSS
/// control); `low` for an id it does not know. Controls that hand a container the node
/// (privileged, Windows HostProcess) are critical; host namespaces, hostPath and escalation
/// paths are high.
pub fn pss_severity(check_id: &str) -> Severity {
    catalog::builtin("pss-restricted").and_then(|c| c.control(check_id)).map_or(Severity::Low, |c| c.severity.into())
}

/// Rows for one workload under one framework: one per (container, control). A failing control
/// fails the containers it implicates (every container when a pod-level field is at fault);
/// a workload without containers gets one row per control with an empty container.
pub fn to_rows(w: &Workload, fw: &Framework, verdicts: &[CheckVerdict]) -> Vec<EvaluationRow> {
    let containers: Vec<(&str, &str)> =
        w.template.spec.all_containers().map(|c| (c.name.as_str(), c.image.as_deref().unwrap_or(""))).collect();
    let targets: Vec<(&str, &str)> = if containers.is_empty() { vec![("", "")] } else { containers };
    let (name, version) = (fw.name(), fw.version());
    let mut rows = Vec::with_capacity(targets.len() * verdicts.len());
    for v in verdicts {
        let message = v.message();
        for (container, image) in &targets {
            let failed = !v.allowed
                && match &v.implicated {
                    Implicated::Pod => true,
                    Implicated::Containers(cs) => cs.iter().any(|c| c == container) || container.is_empty(),
                };
            rows.push(EvaluationRow {
                namespace: w.namespace.clone(),
                workload_kind: w.kind.clone(),
                workload_name: w.name.clone(),
                container: container.to_string(),
                image: image.to_string(),
                image_digest: w.image_digests.get(*container).cloned().unwrap_or_default(),
                framework: name.to_string(),
                framework_version: version.clone(),
                control_id: v.check_id.to_string(),
                status: if failed { Status::Fail } else { Status::Pass },
                severity: pss_severity(v.check_id),
                message: if failed { message.clone() } else { String::new() },
            });
        }
    }
    rows
}

/// Rows for every workload of an inventory under every per-workload (PSS) framework;
/// inventory-wide frameworks (CIS) are left out, see [`evaluate`].
pub fn evaluate_inventory(workloads: &[Workload], frameworks: &[Framework]) -> Vec<EvaluationRow> {
    let mut rows = Vec::new();
    for w in workloads {
        for fw in frameworks {
            rows.extend(to_rows(w, fw, &fw.evaluate(w)));
        }
    }
    rows
}

/// Rows for an inventory under every framework: PSS per workload, CIS over the whole inventory
/// (without image evidence, so CIS 5.5.1 is skipped; see [`evaluate_with`]).
pub fn evaluate(inv: &Inventory, frameworks: &[Framework]) -> Vec<EvaluationRow> {
    evaluate_with(inv, frameworks, &CisContext::default())
}

/// [`evaluate`] with evidence from outside the inventory.
pub fn evaluate_with(inv: &Inventory, frameworks: &[Framework], ctx: &CisContext<'_>) -> Vec<EvaluationRow> {
    let mut rows = evaluate_inventory(&inv.workloads, frameworks);
    let cis_versions: Vec<CisVersion> =
        frameworks.iter().filter_map(|f| if let Framework::Cis(v) = f { Some(*v) } else { None }).collect();
    rows.extend(cis::evaluate_versions(&cis_versions, inv, ctx));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::read_sources;

    #[test]
    fn parses_framework_names() {
        assert_eq!(
            "pss-baseline".parse::<Framework>().unwrap().to_string(),
            format!("pss-baseline@v1.{}", pss::LATEST_MINOR)
        );
        assert_eq!("pss-restricted@v1.25".parse::<Framework>().unwrap().version(), "v1.25");
        assert_eq!("pss-restricted:v1.8".parse::<Framework>().unwrap().version(), "v1.8");
        assert_eq!(
            "pss-restricted@latest".parse::<Framework>().unwrap().version(),
            format!("v1.{}", pss::LATEST_MINOR)
        );
        for bad in
            ["cis", "pss-privileged", "pss-baseline@2.0", "pss-baseline@", "cis-k8s@1.8", "cis-k8s@", "cis-k8s@v1.37"]
        {
            assert!(bad.parse::<Framework>().is_err(), "{bad}");
        }
        let cis: Framework = "cis-k8s@1.10".parse().unwrap();
        assert_eq!(
            (cis.name(), cis.version(), cis.to_string()),
            ("cis-k8s", "1.10".to_string(), "cis-k8s@1.10".to_string())
        );
        assert_eq!("cis-k8s".parse::<Framework>().unwrap().to_string(), "cis-k8s@1.12");
        assert_eq!("cis-k8s@latest".parse::<Framework>().unwrap(), Framework::Cis(CisVersion::V1_12));
        assert_eq!("cis-k8s:1.9".parse::<Framework>().unwrap(), Framework::Cis(CisVersion::V1_9));
        let names: Vec<String> = Framework::defaults().iter().map(ToString::to_string).collect();
        assert_eq!(
            names,
            [
                format!("pss-baseline@v1.{}", pss::LATEST_MINOR),
                format!("pss-restricted@v1.{}", pss::LATEST_MINOR),
                "cis-k8s@1.12".to_string()
            ]
        );
    }

    /// The severities `pss_severity` returned before it read the catalog.
    #[test]
    fn pss_severities_come_from_the_catalog_unchanged() {
        use Severity::{Critical, High, Low, Medium};
        let expected = [
            ("privileged", Critical),
            ("windowsHostProcess", Critical),
            ("hostNamespaces", High),
            ("hostPathVolumes", High),
            ("capabilities_baseline", High),
            ("allowPrivilegeEscalation", High),
            ("hostPorts", Medium),
            ("hostProbesAndHostLifecycle", Medium),
            ("appArmorProfile", Medium),
            ("seLinuxOptions", Medium),
            ("procMount", Medium),
            ("seccompProfile_baseline", Medium),
            ("sysctls", Medium),
            ("restrictedVolumes", Medium),
            ("runAsNonRoot", Medium),
            ("runAsUser", Medium),
            ("seccompProfile_restricted", Medium),
            ("capabilities_restricted", Medium),
            ("procMount_restricted", Medium),
            ("somethingElse", Low),
        ];
        for (id, sev) in expected {
            assert_eq!(pss_severity(id), sev, "{id}");
        }
        // Every check the PSS evaluator can emit is in the catalog of its level.
        for (level, name) in [(Level::Baseline, "pss-baseline"), (Level::Restricted, "pss-restricted")] {
            let catalog = catalog::builtin(name).unwrap();
            for minor in 0..=pss::LATEST_MINOR {
                for check in pss::checks(&Policy::new(level, Version::v1(minor))) {
                    let c = catalog.control(check.id).unwrap_or_else(|| panic!("{name}: {} missing", check.id));
                    assert_eq!(c.name, check.title, "{name}: {}", check.id);
                }
            }
        }
    }

    #[test]
    fn evaluate_runs_pss_per_workload_and_cis_once() {
        let inv = read_sources([(
            "p.yaml",
            b"kind: Pod\nmetadata: {name: p, namespace: shop}\nspec:\n  containers: [{name: c, image: busybox}]\n"
                .as_slice(),
        )]);
        let pss_only: Vec<Framework> = vec!["pss-baseline".parse().unwrap()];
        assert_eq!(evaluate(&inv, &pss_only), evaluate_inventory(&inv.workloads, &pss_only));
        let both: Vec<Framework> = vec!["cis-k8s@1.9".parse().unwrap(), "cis-k8s@1.12".parse().unwrap()];
        let rows = evaluate(&inv, &both);
        for (v, n) in [("1.9", 35), ("1.12", 34)] {
            let ids: std::collections::BTreeSet<&str> =
                rows.iter().filter(|r| r.framework_version == v).map(|r| r.control_id.as_str()).collect();
            assert_eq!(ids.len(), n, "every control of cis {v} has a row");
        }
        assert!(rows.iter().all(|r| r.framework == "cis-k8s"));
        assert!(Framework::Cis(CisVersion::V1_10).evaluate(&inv.workloads[0]).is_empty());
        assert!(evaluate(&Inventory::default(), &Framework::defaults()).is_empty(), "an empty cluster has no rows");
    }

    #[test]
    fn rows_attribute_failures_to_containers() {
        let yaml = r#"kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    spec:
      containers:
      - name: ok
        image: nginx
      - name: root
        image: busybox
        securityContext: {privileged: true}
"#;
        let inv = read_sources([("d.yaml", yaml.as_bytes())]);
        let w = &inv.workloads[0];
        let fw: Framework = "pss-baseline".parse().unwrap();
        let verdicts = fw.evaluate(w);
        let rows = to_rows(w, &fw, &verdicts);
        assert_eq!(rows.len(), verdicts.len() * 2);
        let failing: Vec<_> = rows
            .iter()
            .filter(|r| r.status == Status::Fail)
            .map(|r| (r.container.as_str(), r.control_id.as_str()))
            .collect();
        assert_eq!(failing, [("root", "privileged")]);
        let f = rows.iter().find(|r| r.status == Status::Fail).unwrap();
        assert_eq!(f.severity, Severity::Critical);
        assert!(f.message.contains("privileged"), "{}", f.message);
        assert!(rows.iter().filter(|r| r.status == Status::Pass).all(|r| r.message.is_empty()));

        let host = read_sources([(
            "p.yaml",
            b"kind: Pod\nmetadata: {name: p}\nspec:\n  hostNetwork: true\n  containers: [{name: a}, {name: b}]\n"
                .as_slice(),
        )]);
        let rows = to_rows(&host.workloads[0], &fw, &fw.evaluate(&host.workloads[0]));
        let failing: Vec<_> = rows.iter().filter(|r| r.status == Status::Fail).map(|r| r.container.as_str()).collect();
        assert_eq!(failing, ["a", "b"]);
    }

    #[test]
    fn policy_digest_changes_with_frameworks() {
        let a = policy_digest(&Framework::defaults());
        let b = policy_digest(&["pss-baseline".parse().unwrap()]);
        assert_ne!(a, b);
        assert!(a.starts_with("sha256:") && a.len() == 71);
    }
}
