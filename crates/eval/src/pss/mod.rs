//! Kubernetes Pod Security Standards (PSS) evaluator.
//!
//! A re-implementation of the checks of the upstream `pod-security-admission`
//! project (`k8s.io/pod-security-admission/policy`) for the `baseline` and
//! `restricted` levels, for every policy version from `v1.0` to `v1.37`
//! (`latest`). It agrees with the upstream fixture corpus under
//! `fixtures/pss/testdata` (see `tests/it/pss_corpus.rs`).
//!
//! How a policy is resolved, as upstream does:
//!
//! * Each check has one or more implementations, each with a minimum policy
//!   version; evaluating at `v1.N` uses the newest implementation whose
//!   minimum is `<= 1.N`. A check with no implementation yet at `v1.N` is not
//!   evaluated.
//! * `latest`, and any `v1.N` newer than [`LATEST_MINOR`], resolve to
//!   [`LATEST_MINOR`].
//! * `restricted` runs every Baseline check plus the Restricted checks, except
//!   Baseline checks that an active Restricted check overrides
//!   (`capabilities_restricted` → `capabilities_baseline`,
//!   `seccompProfile_restricted` → `seccompProfile_baseline`,
//!   `restrictedVolumes` → `hostPathVolumes`,
//!   `procMount_restricted` → `procMount`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::k8s::{ObjectMeta, PodSpec};

mod host;
mod identity;
mod privilege;
mod profiles;
mod registry;
mod sysctls;
mod util;
mod volumes;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_checks;

use registry::active;

/// Newest policy minor version known to this evaluator; `latest` means
/// `v1.37`.
pub const LATEST_MINOR: u32 = 37;

/// A Pod Security Standards level (`privileged` enforces nothing and is not
/// modelled).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Baseline,
    Restricted,
}

impl Level {
    /// `"baseline"` or `"restricted"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Baseline => "baseline",
            Level::Restricted => "restricted",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not a PSS level, version or policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("unknown Pod Security level {0:?} (expected \"baseline\" or \"restricted\")")]
    Level(String),
    #[error("invalid Pod Security version {0:?} (expected \"latest\", \"v1.<minor>\" or \"1.<minor>\")")]
    Version(String),
}

impl FromStr for Level {
    type Err = ParseError;

    /// Accepts `baseline` / `restricted`, case-insensitively.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "baseline" => Ok(Level::Baseline),
            "restricted" => Ok(Level::Restricted),
            _ => Err(ParseError::Level(s.to_string())),
        }
    }
}

/// A policy version: `latest` or `v1.<minor>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Version {
    /// The minor version; `None` means `latest`.
    pub minor: Option<u32>,
}

impl Version {
    /// `latest`.
    pub const LATEST: Version = Version { minor: None };

    /// `latest`.
    pub fn latest() -> Self {
        Self::LATEST
    }

    /// `v1.<minor>`.
    pub fn v1(minor: u32) -> Self {
        Version { minor: Some(minor) }
    }

    /// `true` for `latest`.
    pub fn is_latest(&self) -> bool {
        self.minor.is_none()
    }

    /// The minor version used to select check implementations: `latest` and
    /// anything newer than [`LATEST_MINOR`] resolve to [`LATEST_MINOR`].
    pub fn resolved(&self) -> u32 {
        self.minor.map_or(LATEST_MINOR, |m| m.min(LATEST_MINOR))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.minor {
            None => f.write_str("latest"),
            Some(m) => write!(f, "v1.{m}"),
        }
    }
}

impl FromStr for Version {
    type Err = ParseError;

    /// Accepts `latest`, `v1.<minor>` and `1.<minor>`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseError::Version(s.to_string());
        let t = s.trim();
        if t == "latest" {
            return Ok(Version::LATEST);
        }
        let rest = t.strip_prefix('v').unwrap_or(t);
        let minor = rest.strip_prefix("1.").ok_or_else(err)?;
        if minor.is_empty() || !minor.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        minor.parse().map(Version::v1).map_err(|_| err())
    }
}

impl TryFrom<String> for Version {
    type Error = ParseError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Version> for String {
    fn from(v: Version) -> String {
        v.to_string()
    }
}

/// The level and version a pod is evaluated against, e.g.
/// `restricted:v1.25` (the `enforce` / `enforce-version` namespace labels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Policy {
    pub level: Level,
    pub version: Version,
}

impl Policy {
    pub fn new(level: Level, version: Version) -> Self {
        Policy { level, version }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.level, self.version)
    }
}

impl FromStr for Policy {
    type Err = ParseError;

    /// `level` or `level:version` (a missing version means `latest`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (level, version) = match s.split_once(':') {
            Some((l, v)) => (l.parse()?, v.parse()?),
            None => (s.parse()?, Version::LATEST),
        };
        Ok(Policy { level, version })
    }
}

/// Who a failed check is attributed to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Implicated {
    /// A pod-level field (host namespaces, volumes, sysctls, the pod
    /// securityContext, pod annotations) caused the failure.
    Pod,
    /// These containers (init, regular and ephemeral, in that visiting order,
    /// without duplicates) caused the failure. Empty for allowed verdicts.
    Containers(Vec<String>),
}

/// The outcome of one check for one pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckVerdict {
    /// Upstream check ID, e.g. `runAsNonRoot`, `capabilities_restricted`.
    pub check_id: &'static str,
    /// The level the check belongs to.
    pub level: Level,
    pub allowed: bool,
    /// Upstream-style short reason, e.g. `allowPrivilegeEscalation != false`;
    /// empty when allowed.
    pub forbidden_reason: String,
    /// Upstream-style detail, e.g. `container "c" must set
    /// securityContext.allowPrivilegeEscalation=false`; empty when allowed.
    pub forbidden_detail: String,
    pub implicated: Implicated,
}

impl CheckVerdict {
    /// `reason (detail)` for a failure (`reason` alone when there is no
    /// detail), `""` when allowed.
    pub fn message(&self) -> String {
        if self.allowed {
            String::new()
        } else if self.forbidden_detail.is_empty() {
            self.forbidden_reason.clone()
        } else {
            format!("{} ({})", self.forbidden_reason, self.forbidden_detail)
        }
    }
}

/// Static description of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CheckInfo {
    /// Upstream check ID.
    pub id: &'static str,
    /// The level the check belongs to.
    pub level: Level,
    /// The control's name in the Pod Security Standards documentation.
    pub title: &'static str,
}

/// The checks evaluated for `policy`, in evaluation order: Baseline checks
/// (minus those overridden at `restricted`), then Restricted checks. Checks
/// that do not exist yet at the policy version are left out.
pub fn checks(policy: &Policy) -> Vec<CheckInfo> {
    active(policy).into_iter().map(|(d, _)| d.info).collect()
}

/// Evaluates a pod (or pod template) against `policy`: one verdict per check
/// of [`checks`], in the same order.
pub fn evaluate(policy: &Policy, meta: &ObjectMeta, spec: &PodSpec) -> Vec<CheckVerdict> {
    active(policy)
        .into_iter()
        .map(|(d, f)| match f(meta, spec) {
            None => CheckVerdict {
                check_id: d.info.id,
                level: d.info.level,
                allowed: true,
                forbidden_reason: String::new(),
                forbidden_detail: String::new(),
                implicated: Implicated::Containers(Vec::new()),
            },
            Some(failure) => CheckVerdict {
                check_id: d.info.id,
                level: d.info.level,
                allowed: false,
                forbidden_reason: failure.reason,
                forbidden_detail: failure.detail,
                implicated: failure.implicated,
            },
        })
        .collect()
}

/// The upstream-style aggregate of all failures, e.g.
/// `host namespaces (hostNetwork), privileged (container "a" must not set
/// securityContext.privileged=true)`; `None` when every check allowed the pod.
pub fn aggregate_denial(verdicts: &[CheckVerdict]) -> Option<String> {
    let messages: Vec<String> = verdicts.iter().filter(|v| !v.allowed).map(CheckVerdict::message).collect();
    if messages.is_empty() { None } else { Some(messages.join(", ")) }
}
