//! Canonical JSON (RFC 8785 for the values Rekor signs: objects, arrays, strings, integers,
//! booleans and null). Rekor's signed entry timestamp is a signature over this encoding of
//! `{body, integratedTime, logID, logIndex}`.

use serde_json::Value;

/// Serializes `value` canonically: no whitespace, object members sorted by UTF-16 code units,
/// minimal string escapes. Non-integer numbers are refused (Rekor never signs them, and their
/// canonical form needs the ECMAScript number printer).
pub fn to_canonical_json(value: &Value) -> Result<String, String> {
    let mut out = String::new();
    write(value, &mut out)?;
    Ok(out)
}

fn write(value: &Value, out: &mut String) -> Result<(), String> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if n.is_i64() || n.is_u64() {
                out.push_str(&n.to_string());
            } else {
                return Err(format!("non-integer number {n} has no canonical form here"));
            }
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, out)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push('{');
            for (i, (k, v)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                write(v, out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_keys_and_drops_whitespace() {
        let v = json!({"logIndex": 7, "body": "eyJh", "logID": "c0d2", "integratedTime": 1689177396});
        assert_eq!(
            to_canonical_json(&v).unwrap(),
            r#"{"body":"eyJh","integratedTime":1689177396,"logID":"c0d2","logIndex":7}"#
        );
    }

    #[test]
    fn rfc8785_string_escapes_and_utf16_order() {
        let v = json!({"\u{20ac}": 1, "\r": 2, "1": [true, null, "\u{1}\"\\/é"], "\u{1f600}": 3, "\u{fb33}": 4});
        // U+1F600 sorts before U+FB33 by UTF-16 code units (surrogate D83D < FB33).
        assert_eq!(
            to_canonical_json(&v).unwrap(),
            "{\"\\r\":2,\"1\":[true,null,\"\\u0001\\\"\\\\/é\"],\"\u{20ac}\":1,\"\u{1f600}\":3,\"\u{fb33}\":4}"
        );
    }

    #[test]
    fn refuses_floats() {
        assert!(to_canonical_json(&json!({"a": 1.5})).is_err());
    }
}
