//! Frameworks a workload can be judged against, and turning verdicts into evaluation rows.

use std::fmt;
use std::str::FromStr;

use tarn_model::{EvaluationRow, Severity, Status};

use crate::inventory::Workload;
use crate::pss::{self, CheckVerdict, Implicated, Level, Policy, Version};

/// A framework at a version, e.g. `pss-restricted@v1.30`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framework {
    Pss(Policy),
}

#[derive(Debug, thiserror::Error)]
#[error("unknown framework {0:?} (expected pss-baseline or pss-restricted, optionally @v1.N or @latest)")]
pub struct UnknownFramework(String);

impl FromStr for Framework {
    type Err = UnknownFramework;
    fn from_str(s: &str) -> Result<Self, UnknownFramework> {
        let err = || UnknownFramework(s.to_string());
        let (name, version) = match s.split_once(['@', ':']) {
            Some((n, v)) => (n, v.parse::<Version>().map_err(|_| err())?),
            None => (s, Version::latest()),
        };
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
    /// What `tarn agent scan` evaluates when no framework is named.
    pub fn defaults() -> Vec<Framework> {
        vec![
            Framework::Pss(Policy::new(Level::Baseline, Version::latest())),
            Framework::Pss(Policy::new(Level::Restricted, Version::latest())),
        ]
    }

    pub fn name(&self) -> &'static str {
        match self {
            Framework::Pss(p) => match p.level {
                Level::Baseline => "pss-baseline",
                Level::Restricted => "pss-restricted",
            },
        }
    }

    /// The concrete version evaluated (`latest` resolved), e.g. `v1.37`.
    pub fn version(&self) -> String {
        match self {
            Framework::Pss(p) => format!("v1.{}", p.version.resolved()),
        }
    }

    /// Evaluates one workload; one verdict per control, in catalog order.
    pub fn evaluate(&self, w: &Workload) -> Vec<CheckVerdict> {
        match self {
            Framework::Pss(p) => pss::evaluate(p, &w.template.metadata, &w.template.spec),
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

/// Severity of a PSS control. Controls that hand a container the node (privileged, host
/// namespaces, Windows HostProcess) are critical; escalation paths are high.
pub fn pss_severity(check_id: &str) -> Severity {
    match check_id {
        "privileged" | "windowsHostProcess" => Severity::Critical,
        "hostNamespaces" | "hostPathVolumes" | "capabilities_baseline" | "allowPrivilegeEscalation" => Severity::High,
        "hostPorts"
        | "hostProbesAndHostLifecycle"
        | "appArmorProfile"
        | "seLinuxOptions"
        | "procMount"
        | "seccompProfile_baseline"
        | "sysctls"
        | "restrictedVolumes"
        | "runAsNonRoot"
        | "runAsUser"
        | "seccompProfile_restricted"
        | "capabilities_restricted"
        | "procMount_restricted" => Severity::Medium,
        _ => Severity::Low,
    }
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

/// Rows for every workload of an inventory under every framework.
pub fn evaluate_inventory(workloads: &[Workload], frameworks: &[Framework]) -> Vec<EvaluationRow> {
    let mut rows = Vec::new();
    for w in workloads {
        for fw in frameworks {
            rows.extend(to_rows(w, fw, &fw.evaluate(w)));
        }
    }
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
        for bad in ["cis", "pss-privileged", "pss-baseline@2.0", "pss-baseline@"] {
            assert!(bad.parse::<Framework>().is_err(), "{bad}");
        }
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
