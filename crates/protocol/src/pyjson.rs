//! JSON written as Python's `json.dumps` writes it, and `repr(float)`.
//!
//! Circus peers are Python: circusctl and circusd encode with `json.dumps` (`", "` and `": "`
//! separators, `ensure_ascii`, Python's float repr), and circusd quotes the raw request bytes in
//! some errno 5 reasons. Requests and replies encoded here are therefore byte for byte what a
//! Python peer would send. Key order is kept (serde_json is built with `preserve_order`).
//! clusterctl also uses [`dumps_pretty`] (`--prettify`) and [`float_repr`] for its console.

use std::fmt::Write as _;

use serde_json::{Map, Number, Value};

/// `json.dumps(value)`: one line, `", "` and `": "` separators, keys in reply order.
pub fn dumps(value: &Value) -> String {
    let mut out = String::new();
    write_compact(&mut out, value);
    out
}

/// [`dumps`] of a JSON object.
pub fn dumps_map(map: &Map<String, Value>) -> String {
    let mut out = String::new();
    write_object(&mut out, map);
    out
}

/// `json.dumps(value, indent=2, sort_keys=True)`, circusctl's `--prettify`.
pub fn dumps_pretty(value: &Value) -> String {
    let mut out = String::new();
    write_pretty(&mut out, value, 0);
    out
}

/// Appends the compact form of `value`.
fn write_compact(out: &mut String, value: &Value) {
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_compact(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => write_object(out, map),
        scalar => write_scalar(out, scalar),
    }
}

/// Appends the compact form of an object.
fn write_object(out: &mut String, map: &Map<String, Value>) {
    out.push('{');
    for (i, (key, item)) in map.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_json_string(out, key);
        out.push_str(": ");
        write_compact(out, item);
    }
    out.push('}');
}

/// Appends the indented, key-sorted form of `value` at nesting `depth`.
fn write_pretty(out: &mut String, value: &Value, depth: usize) {
    let indent = |out: &mut String, depth: usize| {
        out.push('\n');
        out.push_str(&"  ".repeat(depth));
    };
    match value {
        Value::Array(items) if !items.is_empty() => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                indent(out, depth + 1);
                write_pretty(out, item, depth + 1);
            }
            indent(out, depth);
            out.push(']');
        }
        Value::Object(map) if !map.is_empty() => {
            out.push('{');
            for (i, (key, item)) in sorted(map).into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                indent(out, depth + 1);
                write_json_string(out, key);
                out.push_str(": ");
                write_pretty(out, item, depth + 1);
            }
            indent(out, depth);
            out.push('}');
        }
        Value::Array(_) => out.push_str("[]"),
        Value::Object(_) => out.push_str("{}"),
        scalar => write_scalar(out, scalar),
    }
}

/// The entries of `map` sorted by key, as `sort_keys=True` (code point order = UTF-8 byte order).
fn sorted(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

/// Appends a JSON scalar (never called with arrays or objects).
fn write_scalar(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(number) => out.push_str(&number_repr(number)),
        Value::String(text) => write_json_string(out, text),
        Value::Array(_) | Value::Object(_) => write_compact(out, value),
    }
}

/// A JSON number as Python prints it: integers as digits, floats with [`float_repr`].
pub fn number_repr(number: &Number) -> String {
    match (number.as_i64(), number.as_u64(), number.as_f64()) {
        (Some(int), _, _) => int.to_string(),
        (None, Some(int), _) => int.to_string(),
        (None, None, Some(float)) => float_repr(float),
        (None, None, None) => number.to_string(),
    }
}

/// A string with `ensure_ascii=True` escaping: everything outside `' '..='~'` is escaped, non-ASCII
/// as `\uXXXX` (UTF-16 surrogate pairs beyond the BMP), lowercase hex as Python writes it.
fn write_json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

/// Python's `repr(float)`: the shortest digits that round-trip, in fixed notation when the decimal
/// exponent is in `-4..16` (always with a `.0` when integral), otherwise as `1e-05` / `1.5e+16`.
pub fn float_repr(value: f64) -> String {
    if value.is_nan() {
        return "nan".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.into();
    }
    // Rust's `{:e}` also gives the shortest round-trip digits: `1.2345e-5`, `1e16`, `0e0`.
    let sci = format!("{:e}", value.abs());
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let sign = if value.is_sign_negative() { "-" } else { "" };
    if !(-4..16).contains(&exponent) {
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        return format!("{sign}{mantissa}e{exp_sign}{:02}", exponent.unsigned_abs());
    }
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let body = if exponent < 0 {
        format!("0.{}{digits}", "0".repeat(exponent.unsigned_abs() as usize - 1))
    } else {
        let int_len = exponent as usize + 1;
        if digits.len() <= int_len {
            format!("{digits}{}.0", "0".repeat(int_len - digits.len()))
        } else {
            format!("{}.{}", &digits[..int_len], &digits[int_len..])
        }
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn floats_print_like_python_repr() {
        let cases = [
            (5.0, "5.0"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (0.036, "0.036"),
            (30.0, "30.0"),
            (1795304296.9791687, "1795304296.9791687"),
            (46.14630389213562, "46.14630389213562"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.2345e100, "1.2345e+100"),
            (-2.5, "-2.5"),
            (123.456, "123.456"),
        ];
        for (value, expected) in cases {
            assert_eq!(float_repr(value), expected, "{value:e}");
        }
    }

    #[test]
    fn compact_json_matches_json_dumps() {
        let reply: Value = serde_json::from_str(
            r#"{"status": "ok", "time": 1795304298.6014233, "options": {"endpoint": "tcp://x", "check_delay": 5.0, "n": [1, 2.5, null, true], "e": {}, "l": []}, "id": "abc"}"#,
        )
        .unwrap();
        assert_eq!(
            dumps(&reply),
            r#"{"status": "ok", "time": 1795304298.6014233, "options": {"endpoint": "tcp://x", "check_delay": 5.0, "n": [1, 2.5, null, true], "e": {}, "l": []}, "id": "abc"}"#
        );
    }

    #[test]
    fn strings_are_escaped_with_ensure_ascii() {
        let value = json!("a\"b\\c\nd\u{1}é€😀\u{7f}/");
        assert_eq!(dumps(&value), r#""a\"b\\c\nd\u0001\u00e9\u20ac\ud83d\ude00\u007f/""#);
    }

    #[test]
    fn pretty_json_is_indented_and_sorted() {
        let reply = json!({"status": "ok", "time": 1.5, "options": {"z": 1, "a": [1, {}], "m": []}, "id": "x"});
        let expected = "{\n  \"id\": \"x\",\n  \"options\": {\n    \"a\": [\n      1,\n      {}\n    ],\n    \"m\": [],\n    \"z\": 1\n  },\n  \"status\": \"ok\",\n  \"time\": 1.5\n}";
        assert_eq!(dumps_pretty(&reply), expected);
    }
}
