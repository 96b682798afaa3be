use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A malformed identifier.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdError {
    #[error("invalid cluster name {value:?}: {reason}")]
    Cluster { value: String, reason: &'static str },
    #[error("invalid group path {value:?}: {reason}")]
    Group { value: String, reason: &'static str },
    #[error("invalid snapshot id {value:?}: expected a UUID")]
    Snapshot { value: String },
}

/// A cluster name. It becomes a Hive partition value (`cluster=<name>`) and an object-key
/// segment, so it is restricted to lowercase DNS-label characters plus `.` and `_`
/// (1–253 chars, starting and ending alphanumeric).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClusterName(String);

impl ClusterName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ClusterName {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let err = |reason| IdError::Cluster { value: s.to_string(), reason };
        if s.is_empty() || s.len() > 253 {
            return Err(err("must be 1 to 253 characters"));
        }
        if !s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.' | b'_')) {
            return Err(err("only lowercase letters, digits, '-', '.' and '_' are allowed"));
        }
        let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        if !alnum(s.as_bytes()[0]) || !alnum(s.as_bytes()[s.len() - 1]) {
            return Err(err("must start and end with a letter or digit"));
        }
        Ok(Self(s.to_string()))
    }
}

impl TryFrom<String> for ClusterName {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        s.parse()
    }
}

impl From<ClusterName> for String {
    fn from(c: ClusterName) -> String {
        c.0
    }
}

impl fmt::Display for ClusterName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A position in the IAM group hierarchy, written `/org/unit/team`; `/` is the root.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct GroupPath(String);

impl GroupPath {
    pub fn root() -> Self {
        Self("/".to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/').filter(|s| !s.is_empty())
    }

    /// True when `self` is `other` or one of its descendants.
    pub fn is_within(&self, other: &GroupPath) -> bool {
        other.0 == "/" || self.0 == other.0 || self.0.starts_with(&format!("{}/", other.0))
    }
}

impl FromStr for GroupPath {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let err = |reason| IdError::Group { value: s.to_string(), reason };
        if !s.starts_with('/') {
            return Err(err("must start with '/'"));
        }
        if s == "/" {
            return Ok(Self::root());
        }
        let trimmed = s.strip_suffix('/').unwrap_or(s);
        for seg in trimmed[1..].split('/') {
            if seg.is_empty() {
                return Err(err("empty segment"));
            }
            if !seg.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_')) {
                return Err(err("segments may hold only letters, digits, '-', '.' and '_'"));
            }
        }
        Ok(Self(trimmed.to_string()))
    }
}

impl TryFrom<String> for GroupPath {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        s.parse()
    }
}

impl From<GroupPath> for String {
    fn from(g: GroupPath) -> String {
        g.0
    }
}

impl fmt::Display for GroupPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Snapshot identifier: a UUIDv7, so ids sort by creation time and never collide across agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SnapshotId(uuid::Uuid);

impl SnapshotId {
    /// A new id whose time part is `at` (milliseconds) and whose rest is random.
    pub fn new_at(at: chrono::DateTime<chrono::Utc>) -> Self {
        let ms = at.timestamp_millis().max(0) as u64;
        let ts = uuid::Timestamp::from_unix(uuid::NoContext, ms / 1000, ((ms % 1000) * 1_000_000) as u32);
        Self(uuid::Uuid::new_v7(ts))
    }
}

impl SnapshotId {
    /// The creation time embedded in the id (millisecond precision).
    pub fn created_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        let (secs, nanos) = self.0.get_timestamp()?.to_unix();
        chrono::DateTime::from_timestamp(secs as i64, nanos)
    }
}

impl FromStr for SnapshotId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        uuid::Uuid::parse_str(s).map(Self).map_err(|_| IdError::Snapshot { value: s.to_string() })
    }
}

impl TryFrom<String> for SnapshotId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        s.parse()
    }
}

impl From<SnapshotId> for String {
    fn from(s: SnapshotId) -> String {
        s.to_string()
    }
}

impl fmt::Display for SnapshotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_names() {
        for ok in ["a", "prod-eu-1", "k8s.prod", "a_b", "0"] {
            assert!(ok.parse::<ClusterName>().is_ok(), "{ok}");
        }
        for bad in ["", "Prod", "a/b", "a=b", "-a", "a-", "a b", "ü"] {
            assert!(bad.parse::<ClusterName>().is_err(), "{bad}");
        }
    }

    #[test]
    fn group_paths() {
        let cases = [("/", Some("/")), ("/acme", Some("/acme")), ("/acme/prod/", Some("/acme/prod"))];
        for (input, want) in cases {
            assert_eq!(input.parse::<GroupPath>().ok().map(String::from).as_deref(), want);
        }
        for bad in ["", "acme", "/a//b", "/a b", "/a/=/"] {
            assert!(bad.parse::<GroupPath>().is_err(), "{bad}");
        }
        let child: GroupPath = "/acme/prod/eu".parse().unwrap();
        assert!(child.is_within(&"/acme/prod".parse().unwrap()));
        assert!(child.is_within(&GroupPath::root()));
        assert!(!child.is_within(&"/acme/pro".parse().unwrap()));
    }

    #[test]
    fn snapshot_ids_sort_by_time() {
        let t0 = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().to_utc();
        let a = SnapshotId::new_at(t0);
        let b = SnapshotId::new_at(t0 + chrono::Duration::seconds(1));
        assert!(a.to_string() < b.to_string());
        assert_eq!(a.to_string().parse::<SnapshotId>().unwrap(), a);
        assert_eq!(a.created_at(), Some(t0));
    }
}
