//! Arguments of Tarn's table functions: constant expressions folded to values.
//!
//! Times may be written as timestamp expressions (`TIMESTAMP '2026-03-01 12:00:00'`,
//! `now() - INTERVAL '7 days'`, `'2026-03-01T12:00:00+02:00'::timestamptz`) or plain strings
//! (`'2026-03-01'`, `'2026-03-01T12:00:00Z'`, `'2026-03-01 12:00'`, `'now'`). A time without an
//! offset is UTC. Durations are intervals (`INTERVAL '1 day'`) or strings (`'1d'`, `'6 hours'`).

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use datafusion::catalog::Session;
use datafusion::common::{DFSchema, ScalarValue, plan_datafusion_err, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::Expr;
use datafusion::logical_expr::simplify::SimplifyContext;
use datafusion::optimizer::simplify_expressions::ExprSimplifier;

/// Folds `expr` to a constant, or explains that it must be one.
pub fn constant(session: &dyn Session, func: &str, pos: usize, expr: &Expr) -> Result<ScalarValue> {
    if let Expr::Literal(v, _) = expr {
        return Ok(v.clone());
    }
    let start = session.execution_props().query_execution_start_time.unwrap_or_else(Utc::now);
    let ctx = SimplifyContext::builder().with_query_execution_start_time(Some(start)).build();
    let simplifier = ExprSimplifier::new(ctx);
    let folded = simplifier.coerce(expr.clone(), &DFSchema::empty()).and_then(|e| simplifier.simplify(e));
    match folded {
        Ok(Expr::Literal(v, _)) => Ok(v),
        _ => {
            plan_err!("{func}: argument {pos} must be a constant (a literal or an expression of literals), got {expr}")
        }
    }
}

/// A point in time.
pub fn time(session: &dyn Session, func: &str, pos: usize, expr: &Expr) -> Result<DateTime<Utc>> {
    let v = constant(session, func, pos, expr)?;
    let bad = || plan_datafusion_err!("{func}: argument {pos} must be a time, got {v}");
    let micros = match &v {
        ScalarValue::TimestampSecond(Some(x), _) => x.checked_mul(1_000_000),
        ScalarValue::TimestampMillisecond(Some(x), _) => x.checked_mul(1_000),
        ScalarValue::TimestampMicrosecond(Some(x), _) => Some(*x),
        ScalarValue::TimestampNanosecond(Some(x), _) => Some(x.div_euclid(1_000)),
        ScalarValue::Date32(Some(d)) => i64::from(*d).checked_mul(86_400_000_000),
        ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)) => {
            return parse_time(s).map_err(|e| plan_datafusion_err!("{func}: argument {pos}: {e}"));
        }
        _ => None,
    };
    micros.and_then(DateTime::from_timestamp_micros).ok_or_else(bad)
}

/// Parses the string forms of a time (see the module docs).
pub fn parse_time(s: &str) -> std::result::Result<DateTime<Utc>, String> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("now") {
        return Ok(Utc::now());
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Ok(d.to_utc());
    }
    for f in ["%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%d %H:%M%:z", "%Y-%m-%dT%H:%M%:z"] {
        if let Ok(d) = DateTime::parse_from_str(t, f) {
            return Ok(d.to_utc());
        }
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"] {
        if let Ok(n) = NaiveDateTime::parse_from_str(t, f) {
            return Ok(Utc.from_utc_datetime(&n));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight")));
    }
    Err(format!(
        "{s:?} is not a time (expected e.g. 2026-03-01, 2026-03-01T12:00:00Z, 2026-03-01 12:00:00+02:00 or now)"
    ))
}

/// A positive duration.
pub fn duration(session: &dyn Session, func: &str, pos: usize, expr: &Expr) -> Result<chrono::Duration> {
    let v = constant(session, func, pos, expr)?;
    let d = match &v {
        ScalarValue::IntervalMonthDayNano(Some(i)) if i.months == 0 => {
            Some(chrono::Duration::days(i64::from(i.days)) + chrono::Duration::nanoseconds(i.nanoseconds))
        }
        ScalarValue::IntervalDayTime(Some(i)) => {
            Some(chrono::Duration::days(i64::from(i.days)) + chrono::Duration::milliseconds(i64::from(i.milliseconds)))
        }
        ScalarValue::IntervalMonthDayNano(Some(_)) | ScalarValue::IntervalYearMonth(Some(_)) => {
            return plan_err!(
                "{func}: argument {pos}: months and years have no fixed length; use days or weeks (e.g. '30 days')"
            );
        }
        ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)) => {
            Some(parse_duration(s).map_err(|e| plan_datafusion_err!("{func}: argument {pos}: {e}"))?)
        }
        _ => None,
    };
    match d {
        Some(d) if d > chrono::Duration::zero() => Ok(d),
        Some(_) => plan_err!("{func}: argument {pos} must be a positive duration, got {v}"),
        None => plan_err!("{func}: argument {pos} must be a duration (INTERVAL '1 day' or '1d'), got {v}"),
    }
}

/// `1d`, `6h`, `1 day`, `2 weeks`, `90m`, `1h30m`.
pub fn parse_duration(s: &str) -> std::result::Result<chrono::Duration, String> {
    let compact: String = s.split_whitespace().collect();
    humantime::parse_duration(&compact)
        .map_err(|e| format!("{s:?} is not a duration ({e}); e.g. 1d, 6h, 2 weeks"))
        .and_then(|d| chrono::Duration::from_std(d).map_err(|e| e.to_string()))
}

/// A string argument.
pub fn string(session: &dyn Session, func: &str, pos: usize, expr: &Expr) -> Result<String> {
    match constant(session, func, pos, expr)? {
        ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)) => Ok(s),
        other => plan_err!("{func}: argument {pos} must be a string, got {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_in_utc_unless_an_offset_is_given() {
        let utc = |s: &str| parse_time(s).unwrap().to_rfc3339();
        assert_eq!(utc("2026-03-01"), "2026-03-01T00:00:00+00:00");
        assert_eq!(utc("2026-03-01 12:30"), "2026-03-01T12:30:00+00:00");
        assert_eq!(utc("2026-03-01T12:30:05.25"), "2026-03-01T12:30:05.250+00:00");
        assert_eq!(utc("2026-03-01T00:30:00+02:00"), "2026-02-28T22:30:00+00:00");
        assert_eq!(utc("2026-03-01 00:30:00-05:00"), "2026-03-01T05:30:00+00:00");
        assert_eq!(utc("2026-03-01T12:00:00Z"), "2026-03-01T12:00:00+00:00");
        assert!(parse_time("yesterday").unwrap_err().contains("not a time"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1d").unwrap(), chrono::Duration::days(1));
        assert_eq!(parse_duration("1 day").unwrap(), chrono::Duration::days(1));
        assert_eq!(parse_duration("2 weeks").unwrap(), chrono::Duration::days(14));
        assert_eq!(parse_duration("1h 30m").unwrap(), chrono::Duration::minutes(90));
        assert!(parse_duration("soon").is_err());
    }
}
