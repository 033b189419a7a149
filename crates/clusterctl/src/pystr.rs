//! Python's `str()` and `repr()` of decoded JSON values, which circusctl's console applies with
//! `"%s"` formatting: `None`, `True`, `['a', 'b']`, `{'k': 1.0}`.

use serde_json::Value;

use clusterd_protocol::pyjson::number_repr;

/// `str(value)`: strings bare, everything else as [`py_repr`].
pub fn py_str(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => py_repr(other),
    }
}

/// `str(d.get(key))`: `"None"` when the key is absent.
pub fn py_str_opt(value: Option<&Value>) -> String {
    value.map_or_else(|| "None".to_string(), py_str)
}

/// `repr(value)` of the object `json.loads` would have produced.
pub fn py_repr(value: &Value) -> String {
    match value {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(number) => number_repr(number),
        Value::String(text) => string_repr(text),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(py_repr).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) => {
            let items: Vec<String> =
                map.iter().map(|(key, item)| format!("{}: {}", string_repr(key), py_repr(item))).collect();
            format!("{{{}}}", items.join(", "))
        }
    }
}

/// `repr(str)`: single quotes unless the text holds `'` and no `"`; backslash escapes for the
/// quote, `\\`, `\t\n\r` and control characters.
fn string_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => {
                let code = u32::from(c);
                let escaped = match code {
                    0..=0xff => format!("\\x{code:02x}"),
                    0x100..=0xffff => format!("\\u{code:04x}"),
                    _ => format!("\\U{code:08x}"),
                };
                out.push_str(&escaped);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn values_print_like_python() {
        assert_eq!(py_str(&json!(null)), "None");
        assert_eq!(py_str(&json!(true)), "True");
        assert_eq!(py_str(&json!(30.0)), "30.0");
        assert_eq!(py_str(&json!(15)), "15");
        assert_eq!(py_str(&json!("sleep 3600")), "sleep 3600");
        assert_eq!(py_str(&json!(["a", 1, null])), "['a', 1, None]");
        assert_eq!(py_str(&json!({"class": "FileStream", "x": false})), "{'class': 'FileStream', 'x': False}");
        assert_eq!(py_str(&json!({})), "{}");
        assert_eq!(py_str_opt(None), "None");
    }

    #[test]
    fn strings_repr_like_python() {
        assert_eq!(py_repr(&json!("it's")), "\"it's\"");
        assert_eq!(py_repr(&json!("a'b\"c")), "'a\\'b\"c'");
        assert_eq!(py_repr(&json!("tab\there\u{1}\\")), "'tab\\there\\x01\\\\'");
        assert_eq!(py_repr(&json!("é")), "'é'");
    }
}
