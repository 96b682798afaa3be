//! Named queries: the SQL files in `queries/`, shared by the CLI, reports, alerts and benches.
//!
//! A file declares its parameters in header comments, `-- param: name` (required) or
//! `-- param: name = default`, and uses them as `${name}`. Values are substituted as SQL string
//! literals (quotes escaped), so a parameter can never change the statement's shape; the table
//! functions accept times, durations and scopes as strings.

use std::collections::BTreeMap;

/// Every named query shipped with Tarn, by file stem.
pub const NAMED: &[(&str, &str)] = &[
    ("posture_at", include_str!("../../../queries/posture_at.sql")),
    ("failing_at", include_str!("../../../queries/failing_at.sql")),
    ("compliance_at", include_str!("../../../queries/compliance_at.sql")),
    ("compliance_trend", include_str!("../../../queries/compliance_trend.sql")),
    ("control_history", include_str!("../../../queries/control_history.sql")),
    ("posture_diff", include_str!("../../../queries/posture_diff.sql")),
    ("posture_summary", include_str!("../../../queries/posture_summary.sql")),
    ("stale_clusters", include_str!("../../../queries/stale_clusters.sql")),
    ("report_summary", include_str!("../../../queries/report_summary.sql")),
    ("report_controls", include_str!("../../../queries/report_controls.sql")),
    ("report_catalog", include_str!("../../../queries/report_catalog.sql")),
    ("report_clusters", include_str!("../../../queries/report_clusters.sql")),
    ("report_trend", include_str!("../../../queries/report_trend.sql")),
    ("report_findings", include_str!("../../../queries/report_findings.sql")),
    ("report_first_failing", include_str!("../../../queries/report_first_failing.sql")),
    ("report_snapshots", include_str!("../../../queries/report_snapshots.sql")),
    ("report_range_snapshots", include_str!("../../../queries/report_range_snapshots.sql")),
    ("alert_privileged_running", include_str!("../../../queries/alert_privileged_running.sql")),
    ("alert_history", include_str!("../../../queries/alert_history.sql")),
];

/// A parsed named query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedQuery {
    pub name: String,
    /// The first comment line.
    pub title: String,
    /// Parameter names with their defaults (`None`: required), in declaration order.
    pub params: Vec<(String, Option<String>)>,
    pub sql: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NamedError {
    #[error("no named query {0:?} (known: {1})")]
    Unknown(String, String),
    #[error("named query {query}: missing parameter {param:?}")]
    Missing { query: String, param: String },
    #[error("named query {query}: unknown parameter {param:?} (it takes: {known})")]
    Extra { query: String, param: String, known: String },
    #[error("named query {query}: uses ${{{param}}} without declaring it")]
    Undeclared { query: String, param: String },
}

impl NamedQuery {
    pub fn parse(name: &str, text: &str) -> Self {
        let mut title = String::new();
        let mut params = Vec::new();
        for line in text.lines().take_while(|l| l.starts_with("--")) {
            let body = line.trim_start_matches('-').trim();
            if let Some(p) = body.strip_prefix("param:") {
                let (n, d) = match p.split_once('=') {
                    Some((n, d)) => (n.trim(), Some(d.trim().trim_matches('\'').to_string())),
                    None => (p.trim(), None),
                };
                params.push((n.to_string(), d));
            } else if title.is_empty() && !body.is_empty() {
                title = body.to_string();
            }
        }
        Self { name: name.to_string(), title, params, sql: text.to_string() }
    }

    /// The statement with `values` substituted (defaults for the rest).
    pub fn render(&self, values: &BTreeMap<String, String>) -> Result<String, NamedError> {
        for k in values.keys() {
            if !self.params.iter().any(|(n, _)| n == k) {
                return Err(NamedError::Extra {
                    query: self.name.clone(),
                    param: k.clone(),
                    known: self.params.iter().map(|p| p.0.as_str()).collect::<Vec<_>>().join(", "),
                });
            }
        }
        let mut out = String::with_capacity(self.sql.len());
        let mut rest = self.sql.as_str();
        while let Some(i) = rest.find("${") {
            out.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            let Some(j) = after.find('}') else {
                out.push_str(&rest[i..]);
                rest = "";
                break;
            };
            let name = &after[..j];
            let declared = self
                .params
                .iter()
                .find(|(n, _)| n == name)
                .ok_or_else(|| NamedError::Undeclared { query: self.name.clone(), param: name.to_string() })?;
            let value = values
                .get(name)
                .cloned()
                .or_else(|| declared.1.clone())
                .ok_or_else(|| NamedError::Missing { query: self.name.clone(), param: name.to_string() })?;
            out.push('\'');
            out.push_str(&value.replace('\'', "''"));
            out.push('\'');
            rest = &after[j + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// A shipped named query.
pub fn named(name: &str) -> Result<NamedQuery, NamedError> {
    NAMED.iter().find(|(n, _)| *n == name).map(|(n, t)| NamedQuery::parse(n, t)).ok_or_else(|| {
        NamedError::Unknown(name.to_string(), NAMED.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "))
    })
}

/// All shipped named queries.
pub fn all() -> Vec<NamedQuery> {
    NAMED.iter().map(|(n, t)| NamedQuery::parse(n, t)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_quoted_and_checked() {
        let q = NamedQuery::parse(
            "t",
            "-- A test\n-- param: at\n-- param: scope = ''\nSELECT * FROM posture_at(${at}, ${scope})",
        );
        assert_eq!(q.title, "A test");
        let mut v = BTreeMap::new();
        assert_eq!(q.render(&v), Err(NamedError::Missing { query: "t".into(), param: "at".into() }));
        v.insert("at".into(), "2026-01-01'); DROP TABLE x; --".into());
        assert_eq!(
            q.render(&v).unwrap().lines().last().unwrap(),
            "SELECT * FROM posture_at('2026-01-01''); DROP TABLE x; --', '')"
        );
        v.insert("nope".into(), "1".into());
        assert!(matches!(q.render(&v), Err(NamedError::Extra { .. })));
    }

    #[test]
    fn shipped_queries_declare_what_they_use() {
        for q in all() {
            assert!(!q.title.is_empty(), "{} has no title", q.name);
            let values: BTreeMap<String, String> =
                q.params.iter().map(|(n, d)| (n.clone(), d.clone().unwrap_or_else(|| "x".into()))).collect();
            q.render(&values).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}
