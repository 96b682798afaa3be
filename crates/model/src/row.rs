use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Outcome of one control for one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    Warn,
    Skip,
    Error,
}

impl Status {
    pub const ALL: [Status; 5] = [Status::Pass, Status::Fail, Status::Warn, Status::Skip, Status::Error];

    /// How bad a status is when a resource has several rows for one control (one per
    /// container): the resource takes its worst row's status.
    /// `skip` < `pass` < `warn` < `fail` < `error`.
    pub fn resource_rank(self) -> u8 {
        match self {
            Status::Skip => 0,
            Status::Pass => 1,
            Status::Warn => 2,
            Status::Fail => 3,
            Status::Error => 4,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Warn => "warn",
            Status::Skip => "skip",
            Status::Error => "error",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Status::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("unknown status {s:?} (expected pass|fail|warn|skip|error)"))
    }
}

/// Severity of a control, ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One evaluation result: one control judged for one container of one workload.
///
/// Cluster-wide fields (cluster, group, times, snapshot id) live on the snapshot and are
/// stamped onto each stored row by the lake writer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvaluationRow {
    pub namespace: String,
    pub workload_kind: String,
    pub workload_name: String,
    /// Container name; empty when the finding concerns the workload as a whole.
    pub container: String,
    pub image: String,
    /// `sha256:<hex>` when known, else empty.
    pub image_digest: String,
    pub framework: String,
    pub framework_version: String,
    pub control_id: String,
    pub status: Status,
    pub severity: Severity,
    /// Human-readable reason; empty for plain passes.
    pub message: String,
}

impl EvaluationRow {
    /// The order rows are stored in: groups equal values together so dictionary and run-length
    /// encodings compress well, and makes per-workload reads contiguous.
    pub fn sort_key(&self) -> impl Ord + '_ {
        (&self.namespace, &self.workload_kind, &self.workload_name, &self.container, &self.framework, &self.control_id)
    }
}

/// Row counts per status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCounts {
    pub pass: u64,
    pub fail: u64,
    pub warn: u64,
    pub skip: u64,
    pub error: u64,
}

impl StatusCounts {
    pub fn add(&mut self, s: Status) {
        match s {
            Status::Pass => self.pass += 1,
            Status::Fail => self.fail += 1,
            Status::Warn => self.warn += 1,
            Status::Skip => self.skip += 1,
            Status::Error => self.error += 1,
        }
    }

    pub fn total(&self) -> u64 {
        self.pass + self.fail + self.warn + self.skip + self.error
    }

    /// Everything that was judged: all but `skip` (score math: the denominator).
    pub fn evaluated(&self) -> u64 {
        self.pass + self.fail + self.warn + self.error
    }

    pub fn get(&self, s: Status) -> u64 {
        match s {
            Status::Pass => self.pass,
            Status::Fail => self.fail,
            Status::Warn => self.warn,
            Status::Skip => self.skip,
            Status::Error => self.error,
        }
    }

    pub fn merge(&mut self, other: &StatusCounts) {
        self.pass += other.pass;
        self.fail += other.fail;
        self.warn += other.warn;
        self.skip += other.skip;
        self.error += other.error;
    }

    pub fn of<'a>(rows: impl IntoIterator<Item = &'a EvaluationRow>) -> Self {
        let mut c = Self::default();
        for r in rows {
            c.add(r.status);
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_round_trip() {
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>().unwrap(), s);
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
        }
        assert!("PASS".parse::<Status>().is_err());
    }

    #[test]
    fn counts() {
        let mut c = StatusCounts::default();
        for s in [Status::Pass, Status::Pass, Status::Fail, Status::Error] {
            c.add(s);
        }
        assert_eq!((c.pass, c.fail, c.error, c.total()), (2, 1, 1, 4));
    }
}
