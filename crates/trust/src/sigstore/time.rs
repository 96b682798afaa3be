//! Time values: RFC 3339 (trusted root), X.509 validity, ASN.1 GeneralizedTime (RFC 3161), and
//! closed validity intervals.

use chrono::{DateTime, NaiveDate, Utc};

/// A closed interval `[start, end]`; no `end` means open-ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
}

impl TimeRange {
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && self.end.is_none_or(|end| t <= end)
    }
}

pub(crate) fn parse_rfc3339(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).map_err(|e| format!("bad RFC 3339 time {s:?}: {e}"))
}

pub(crate) fn from_unix(secs: i64) -> Result<DateTime<Utc>, String> {
    DateTime::from_timestamp(secs, 0).ok_or_else(|| format!("time {secs} is out of range"))
}

pub(crate) fn from_x509(t: &x509_cert::time::Time) -> DateTime<Utc> {
    let d = t.to_unix_duration();
    // X.509 times are whole seconds between 1950 and 9999: always in chrono's range.
    DateTime::from_timestamp(d.as_secs() as i64, d.subsec_nanos()).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Parses the value of a DER GeneralizedTime: `YYYYMMDDHHMMSS[.f+]Z` (RFC 3161 allows
/// fractional seconds).
pub(crate) fn parse_generalized_time(value: &[u8]) -> Result<DateTime<Utc>, String> {
    let s = std::str::from_utf8(value).map_err(|_| "GeneralizedTime is not ASCII".to_string())?;
    let bad = || format!("bad GeneralizedTime {s:?}");
    let body = s.strip_suffix('Z').ok_or_else(bad)?;
    let (whole, frac) = match body.split_once('.') {
        Some((w, f)) if !f.is_empty() && f.len() <= 9 && f.bytes().all(|b| b.is_ascii_digit()) && !f.ends_with('0') => {
            (w, f)
        }
        Some(_) => return Err(bad()),
        None => (body, ""),
    };
    if whole.len() != 14 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n = |r: std::ops::Range<usize>| whole[r].parse::<u32>().map_err(|_| bad());
    let nanos = if frac.is_empty() { 0 } else { format!("{frac:0<9}").parse::<u32>().map_err(|_| bad())? };
    let date = NaiveDate::from_ymd_opt(n(0..4)? as i32, n(4..6)?, n(6..8)?).ok_or_else(bad)?;
    let t = date.and_hms_nano_opt(n(8..10)?, n(10..12)?, n(12..14)?, nanos).ok_or_else(bad)?;
    Ok(t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_interval() {
        let t = |s| parse_rfc3339(s).unwrap();
        let r = TimeRange { start: t("2025-01-01T00:00:00Z"), end: Some(t("2025-06-12T12:02:20Z")) };
        assert!(r.contains(t("2025-01-01T00:00:00Z")));
        assert!(r.contains(t("2025-06-12T12:02:20Z")), "end is inclusive");
        assert!(!r.contains(t("2025-06-12T12:02:20.001Z")));
        assert!(!r.contains(t("2024-12-31T23:59:59Z")));
        assert!(TimeRange { end: None, ..r }.contains(t("2999-01-01T00:00:00Z")));
    }

    #[test]
    fn generalized_time() {
        let g = |s: &str| parse_generalized_time(s.as_bytes());
        assert_eq!(g("20250612120220Z").unwrap(), parse_rfc3339("2025-06-12T12:02:20Z").unwrap());
        assert_eq!(g("20250612120220.25Z").unwrap(), parse_rfc3339("2025-06-12T12:02:20.25Z").unwrap());
        for bad in ["20250612120220", "2025061212022Z", "20250612120220.Z", "20250612120220.50Z", "20251312120220Z"] {
            assert!(g(bad).is_err(), "{bad}");
        }
    }
}
