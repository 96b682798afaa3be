//! in-toto Statement v1 (<https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md>).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// An artifact the statement is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    pub name: String,
    /// Algorithm → lowercase hex digest.
    pub digest: BTreeMap<String, String>,
}

impl Subject {
    pub fn sha256(name: impl Into<String>, hex: &str) -> Self {
        Self { name: name.into(), digest: BTreeMap::from([("sha256".to_string(), hex.to_string())]) }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    #[serde(rename = "_type")]
    pub type_: String,
    pub subject: Vec<Subject>,
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    pub predicate: serde_json::Value,
}

impl Statement {
    pub fn new(subject: Vec<Subject>, predicate_type: &str, predicate: serde_json::Value) -> Self {
        Self { type_: STATEMENT_TYPE.to_string(), subject, predicate_type: predicate_type.to_string(), predicate }
    }

    /// True when some subject carries `sha256_hex` as its SHA-256 digest (in-toto DigestSet
    /// matching: the algorithm must match and the value compare equal, case-insensitively).
    pub fn has_sha256_subject(&self, sha256_hex: &str) -> bool {
        self.subject.iter().any(|s| s.digest.get("sha256").is_some_and(|d| d.eq_ignore_ascii_case(sha256_hex)))
    }
}
