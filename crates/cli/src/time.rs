//! Parsing times given on the command line.

use chrono::{DateTime, Utc};

/// Accepts what the query engine's time arguments accept: RFC 3339 (`2026-03-01T12:00:00Z`),
/// `2026-03-01 12:00:00+02:00`, a date (`2026-03-01`, midnight UTC), or `now`.
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    tarn_query::parse_time(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_forms() {
        assert_eq!(parse_time("2026-03-01").unwrap().to_rfc3339(), "2026-03-01T00:00:00+00:00");
        assert_eq!(parse_time("2026-03-01T12:00:00+02:00").unwrap().to_rfc3339(), "2026-03-01T10:00:00+00:00");
        assert!(parse_time("yesterday").is_err());
        assert!(parse_time("now").is_ok());
    }
}
