//! CloudEvents 1.0: the events Tarn emits, their two HTTP content modes, and a validator for
//! the JSON event format (checked against the CloudEvents format conformance vectors).

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

pub const SPEC_VERSION: &str = "1.0";
/// The spec asks intermediaries to forward events of at least this size; Tarn stays under it.
pub const MAX_EVENT_BYTES: usize = 64 * 1024;
pub const DATA_SCHEMA: &str = "https://tarn.dev/schemas/alert-event.v1.json";

/// One CloudEvent with a JSON payload.
#[derive(Debug, Clone, PartialEq)]
pub struct CloudEvent {
    pub id: String,
    pub source: String,
    pub ty: String,
    pub subject: Option<String>,
    pub time: DateTime<Utc>,
    /// Extension attributes (lower-case alphanumeric names), string values.
    pub extensions: BTreeMap<String, String>,
    pub data: Value,
}

impl CloudEvent {
    /// The event in the JSON format (structured mode body).
    pub fn to_structured(&self) -> Value {
        let mut m = Map::new();
        m.insert("specversion".into(), SPEC_VERSION.into());
        m.insert("id".into(), self.id.clone().into());
        m.insert("source".into(), self.source.clone().into());
        m.insert("type".into(), self.ty.clone().into());
        if let Some(s) = &self.subject {
            m.insert("subject".into(), s.clone().into());
        }
        m.insert("time".into(), rfc3339(self.time).into());
        m.insert("datacontenttype".into(), "application/json".into());
        m.insert("dataschema".into(), DATA_SCHEMA.into());
        for (k, v) in &self.extensions {
            m.insert(k.clone(), v.clone().into());
        }
        m.insert("data".into(), self.data.clone());
        Value::Object(m)
    }

    /// Binary mode: `ce-*` headers (values percent-encoded as the HTTP binding asks) and the data.
    pub fn binary_headers(&self) -> Vec<(String, String)> {
        let mut h = vec![
            ("ce-specversion".to_string(), SPEC_VERSION.to_string()),
            ("ce-id".to_string(), pct(&self.id)),
            ("ce-source".to_string(), pct(&self.source)),
            ("ce-type".to_string(), pct(&self.ty)),
            ("ce-time".to_string(), rfc3339(self.time)),
            ("ce-dataschema".to_string(), DATA_SCHEMA.to_string()),
            ("content-type".to_string(), "application/json".to_string()),
        ];
        if let Some(s) = &self.subject {
            h.push(("ce-subject".to_string(), pct(s)));
        }
        for (k, v) in &self.extensions {
            h.push((format!("ce-{k}"), pct(v)));
        }
        h
    }

    /// Reads back an event stored in structured form.
    pub fn from_structured(v: &Value) -> Result<Self, String> {
        validate(v)?;
        let o = v.as_object().expect("validated");
        let s = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_string);
        let mut extensions = BTreeMap::new();
        for (k, val) in o {
            if !CORE.contains(&k.as_str()) && k != "data" && k != "data_base64" {
                extensions.insert(k.clone(), val.as_str().map(str::to_string).unwrap_or_else(|| val.to_string()));
            }
        }
        Ok(CloudEvent {
            id: s("id").expect("validated"),
            source: s("source").expect("validated"),
            ty: s("type").expect("validated"),
            subject: s("subject"),
            time: s("time").and_then(|t| DateTime::parse_from_rfc3339(&t).ok()).map(|t| t.to_utc()).unwrap_or_default(),
            extensions,
            data: o.get("data").cloned().unwrap_or(Value::Null),
        })
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Percent-encodes what the HTTP binding says header values must not carry raw.
fn pct(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if (0x21..=0x7e).contains(&b) && b != b'"' && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

const CORE: &[&str] = &["specversion", "id", "source", "type", "datacontenttype", "dataschema", "subject", "time"];

/// Checks one event in the JSON format against the CloudEvents 1.0 rules: required attributes
/// present, non-empty strings; known specversion; RFC 3339 `time` with seconds and a valid
/// offset; RFC 2046 `datacontenttype`; non-empty optional attributes; extension names of
/// lower-case letters and digits with string, integer or boolean values; not both `data` and
/// `data_base64`. `null` optional attributes count as absent.
pub fn validate(v: &Value) -> Result<(), String> {
    let o = v.as_object().ok_or("an event must be a JSON object")?;
    let req = |k: &str| -> Result<&str, String> {
        match o.get(k) {
            None | Some(Value::Null) => Err(format!("{k}: required")),
            Some(Value::String(s)) if s.is_empty() => Err(format!("{k}: empty")),
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(format!("{k}: must be a string")),
        }
    };
    let sv = req("specversion")?;
    if sv != SPEC_VERSION {
        return Err(format!("specversion: {sv:?} is not 1.0"));
    }
    req("id")?;
    req("type")?;
    req("source")?;
    let opt = |k: &str| -> Result<Option<&str>, String> {
        match o.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Err(format!("{k}: empty")),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(format!("{k}: must be a string")),
        }
    };
    opt("subject")?;
    opt("dataschema")?;
    if let Some(t) = opt("time")? {
        check_time(t)?;
    }
    if let Some(ct) = opt("datacontenttype")? {
        check_media_type(ct)?;
    }
    for (k, val) in o {
        if CORE.contains(&k.as_str()) || k == "data" || k == "data_base64" {
            continue;
        }
        if k.is_empty() || !k.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()) {
            return Err(format!("extension {k:?}: names are lower-case letters and digits"));
        }
        match val {
            Value::String(_) | Value::Bool(_) | Value::Null => {}
            Value::Number(n) if n.is_i64() && n.as_i64().is_some_and(|i| i32::try_from(i).is_ok()) => {}
            _ => return Err(format!("extension {k}: values are strings, booleans or 32-bit integers")),
        }
    }
    if o.get("data").is_some_and(|d| !d.is_null()) && o.get("data_base64").is_some_and(|d| !d.is_null()) {
        return Err("data and data_base64 are exclusive".into());
    }
    Ok(())
}

/// A batch (`application/cloudevents-batch+json`): an array of valid events of one specversion.
pub fn validate_batch(v: &Value) -> Result<(), String> {
    let a = v.as_array().ok_or("a batch must be a JSON array")?;
    for (i, e) in a.iter().enumerate() {
        validate(e).map_err(|m| format!("[{i}]: {m}"))?;
    }
    Ok(())
}

/// RFC 3339 `date-time`: full date, `T`, time with seconds, optional fraction, `Z` or `±hh:mm`.
fn check_time(t: &str) -> Result<(), String> {
    let bad = || format!("time: {t:?} is not an RFC 3339 timestamp");
    let b = t.as_bytes();
    if b.len() < 20 || b[10] != b'T' && b[10] != b't' || b[13] != b':' || b[16] != b':' {
        return Err(bad());
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return Err(bad());
        }
    }
    let offset = t.get(i..).ok_or_else(bad)?;
    let offset_ok = matches!(offset, "Z" | "z")
        || (offset.len() == 6
            && matches!(offset.as_bytes()[0], b'+' | b'-')
            && offset.as_bytes()[3] == b':'
            && offset[1..3].parse::<u8>().is_ok_and(|h| h <= 23)
            && offset[4..6].parse::<u8>().is_ok_and(|m| m <= 59)
            && offset[1..3].bytes().chain(offset[4..6].bytes()).all(|c| c.is_ascii_digit()));
    if !offset_ok {
        return Err(bad());
    }
    DateTime::parse_from_rfc3339(t).map(|_| ()).map_err(|_| bad())
}

/// RFC 2046: `type/subtype` tokens, optional parameters.
fn check_media_type(ct: &str) -> Result<(), String> {
    let essence = ct.split(';').next().unwrap_or("").trim();
    let token = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b));
    match essence.split_once('/') {
        Some((t, s)) if token(t) && token(s) => Ok(()),
        _ => Err(format!("datacontenttype: {ct:?} is not an RFC 2046 media type")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CloudEvent {
        CloudEvent {
            id: "e1".into(),
            source: "urn:tarn:lake:1:cluster:c".into(),
            ty: "dev.tarn.posture.changed.v1".into(),
            subject: Some("/acme/prod/c".into()),
            time: "2026-03-01T12:00:00Z".parse().unwrap(),
            extensions: BTreeMap::from([("tarnrule".into(), "r é".into())]),
            data: serde_json::json!({"x": 1}),
        }
    }

    #[test]
    fn structured_form_is_valid_and_reads_back() {
        let e = sample();
        let v = e.to_structured();
        validate(&v).unwrap();
        assert_eq!(CloudEvent::from_structured(&v).unwrap(), e);
    }

    #[test]
    fn binary_headers_percent_encode() {
        let h = sample().binary_headers();
        assert!(h.contains(&("ce-tarnrule".into(), "r%20%C3%A9".into())));
        assert!(h.contains(&("ce-time".into(), "2026-03-01T12:00:00.000Z".into())));
    }
}
