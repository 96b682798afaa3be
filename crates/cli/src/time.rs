//! Parsing times given on the command line.

use chrono::{DateTime, NaiveDate, Utc};

/// Accepts RFC 3339 (`2026-03-01T12:00:00Z`), a date (`2026-03-01`, midnight UTC), or `now`.
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    if s == "now" {
        return Ok(Utc::now());
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.to_utc());
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc());
    }
    Err(format!("invalid time {s:?}: use RFC 3339 (2026-03-01T12:00:00Z), a date (2026-03-01) or now"))
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
