//! Requests and replies of the Circus command protocol (circus-protocol.md §2).
//!
//! A request is one UTF-8 JSON object, `{"command": ..., "properties": {...}, "id": ...}`.
//! A reply echoes `id` with its JSON type and always carries `status` and `time`, in Circus's key
//! order: `status, time, <fields>, id` for success and `status, reason, tb, time, errno, id` for
//! errors. serde_json is built with `preserve_order`, so the order we insert is the order we send.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use crate::errno::Errno;

/// Requests larger than this are refused with an errno 3 reply before any parsing.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 1024 * 1024;

/// JSON nesting deeper than this is refused (serde_json's own limit is 128; we stop earlier so
/// that hostile input never reaches the recursion limit of anything we hand it to).
const MAX_DEPTH: usize = 64;

/// A decoded command request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The command name, lower-cased (circusd looks commands up case-insensitively).
    pub command: String,
    /// The `properties` object (`{}` when absent).
    pub properties: Map<String, Value>,
    /// The client's `id`, `null` when absent; echoed unchanged in the reply.
    pub id: Value,
    /// `"msg_type": "cast"`: run the command but send no reply.
    pub cast: bool,
}

/// Why a request could not be decoded, with what is needed to answer it anyway.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeError {
    /// errno 1 for bytes that are not JSON, 3 for JSON that is not a valid request.
    pub errno: Errno,
    /// Human-readable reason, sent as `reason`.
    pub reason: String,
    /// The request's `id` when it could be read, else `null`.
    pub id: Value,
}

impl DecodeError {
    fn new(errno: Errno, reason: impl Into<String>, id: Value) -> Self {
        DecodeError { errno, reason: reason.into(), id }
    }

    /// The error reply for this failure.
    pub fn reply(&self) -> Reply {
        Reply::error(self.errno, &self.reason, self.id.clone())
    }
}

impl Request {
    /// Builds a request as circusctl would send it.
    pub fn new(command: &str, properties: Map<String, Value>) -> Self {
        Request { command: command.to_lowercase(), properties, id: Value::Null, cast: false }
    }

    /// Decodes one request frame.
    ///
    /// # Errors
    /// Every failure carries the errno and reason to reply with; unlike circusd, nothing that
    /// can be answered is dropped silently (circus-protocol.md §1.4).
    pub fn decode(bytes: &[u8], max_size: usize) -> Result<Request, DecodeError> {
        if bytes.len() > max_size {
            return Err(DecodeError::new(
                Errno::MessageError,
                format!("message too large: {} bytes (limit {max_size})", bytes.len()),
                Value::Null,
            ));
        }
        let text = std::str::from_utf8(bytes)
            .map_err(|_| DecodeError::new(Errno::InvalidJson, "json invalid: not UTF-8", Value::Null))?;
        let text = text.trim();
        if text.is_empty() {
            return Err(DecodeError::new(Errno::InvalidJson, "json invalid: empty message", Value::Null));
        }
        if nesting_depth(text) > MAX_DEPTH {
            return Err(DecodeError::new(
                Errno::InvalidJson,
                format!("json invalid: nested deeper than {MAX_DEPTH} levels"),
                Value::Null,
            ));
        }
        let value: Value = serde_json::from_str(text)
            .map_err(|err| DecodeError::new(Errno::InvalidJson, format!("json invalid: {err}"), Value::Null))?;
        let Value::Object(mut object) = value else {
            return Err(DecodeError::new(
                Errno::MessageError,
                format!("message invalid: expected a JSON object, got {}", type_name(&value)),
                Value::Null,
            ));
        };
        let id = object.remove("id").unwrap_or(Value::Null);
        let command = match object.remove("command") {
            Some(Value::String(command)) if !command.trim().is_empty() => command.to_lowercase(),
            Some(Value::String(_)) => {
                return Err(DecodeError::new(Errno::MessageError, "message invalid: empty 'command'", id))
            }
            Some(other) => {
                return Err(DecodeError::new(
                    Errno::MessageError,
                    format!("message invalid: 'command' must be a string, got {}", type_name(&other)),
                    id,
                ))
            }
            None => return Err(DecodeError::new(Errno::MessageError, "message invalid 'command' is missing", id)),
        };
        let properties = match object.remove("properties") {
            None => Map::new(),
            Some(Value::Object(properties)) => properties,
            // circusd accepts `[]` by accident (`'name' in []`); keep that working.
            Some(Value::Array(items)) if items.is_empty() => Map::new(),
            Some(other) => {
                return Err(DecodeError::new(
                    Errno::MessageError,
                    format!("message invalid: 'properties' must be an object, got {}", type_name(&other)),
                    id,
                ))
            }
        };
        let cast = matches!(object.get("msg_type"), Some(Value::String(t)) if t == "cast");
        Ok(Request { command, properties, id, cast })
    }

    /// Encodes the request with the given `id`, byte for byte as circusctl does (key order
    /// `command, properties, id`, Python separators).
    pub fn encode_with_id(&self, id: &Value) -> Vec<u8> {
        let mut object = Map::new();
        object.insert("command".into(), Value::String(self.command.clone()));
        object.insert("properties".into(), Value::Object(self.properties.clone()));
        object.insert("id".into(), id.clone());
        if self.cast {
            object.insert("msg_type".into(), Value::String("cast".into()));
        }
        crate::pyjson::dumps(&Value::Object(object)).into_bytes()
    }

    /// A string property, `None` when absent.
    ///
    /// # Errors
    /// An errno 3 reason when the property exists but is not a string.
    pub fn str_property(&self, key: &str) -> Result<Option<&str>, String> {
        match self.properties.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(format!("'{key}' must be a string, got {}", type_name(other))),
        }
    }

    /// A required string property.
    ///
    /// # Errors
    /// The Circus reason `message invalid '<key>' is missing`, or a type error.
    pub fn required_str(&self, key: &str) -> Result<&str, String> {
        self.str_property(key)?.ok_or_else(|| format!("message invalid '{key}' is missing"))
    }

    /// `properties.waiting` is true.
    pub fn waiting(&self) -> bool {
        matches!(self.properties.get("waiting"), Some(Value::Bool(true)))
    }
}

/// Seconds since the epoch, as a float, like Python's `time.time()`.
pub fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// The JSON type of a value, for error messages.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Deepest bracket nesting in a JSON text, ignoring brackets inside strings.
fn nesting_depth(text: &str) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for byte in text.bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

mod reply;

pub use reply::Reply;

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn decode(text: &str) -> Result<Request, DecodeError> {
        Request::decode(text.as_bytes(), DEFAULT_MAX_MESSAGE_SIZE)
    }

    #[test]
    fn decodes_a_circusctl_request() {
        let req = decode(r#"{"command": "NumWatchers", "properties": {}, "id": 42}"#).unwrap();
        assert_eq!(req.command, "numwatchers");
        assert_eq!(req.id, json!(42));
        assert!(!req.cast);
    }

    #[test]
    fn malformed_input_gets_the_right_errno() {
        let cases = [
            ("not json", 1),
            ("", 1),
            ("   ", 1),
            ("[1,2]", 3),
            (r#"{"properties": {}}"#, 3),
            (r#"{"command": 5}"#, 3),
            (r#"{"command": "list", "properties": null}"#, 3),
            (r#"{"command": "list", "properties": 7}"#, 3),
        ];
        for (input, errno) in cases {
            let err = decode(input).unwrap_err();
            assert_eq!(err.errno.code(), errno, "{input:?}: {}", err.reason);
        }
    }

    #[test]
    fn id_survives_a_bad_command() {
        let err = decode(r#"{"command": 5, "id": "x1"}"#).unwrap_err();
        assert_eq!(err.id, json!("x1"));
    }

    #[test]
    fn oversized_and_deep_messages_are_refused() {
        let big = format!(r#"{{"command": "list", "properties": {{"x": "{}"}}}}"#, "a".repeat(2000));
        assert!(Request::decode(big.as_bytes(), 1000).unwrap_err().reason.contains("too large"));
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(decode(&deep).unwrap_err().errno, Errno::InvalidJson);
    }

    #[test]
    fn requests_are_encoded_like_circusctl() {
        let mut properties = Map::new();
        properties.insert("name".into(), json!("dummy"));
        properties.insert("nb".into(), json!(3));
        properties.insert("waiting".into(), json!(true));
        let request = Request::new("incr", properties);
        assert_eq!(
            String::from_utf8(request.encode_with_id(&json!("57ae2fa8d94b4999a83a0458c6164ffa"))).unwrap(),
            r#"{"command": "incr", "properties": {"name": "dummy", "nb": 3, "waiting": true}, "id": "57ae2fa8d94b4999a83a0458c6164ffa"}"#
        );
    }

    #[test]
    fn ok_reply_keeps_circus_key_order_and_status_override() {
        let mut fields = Map::new();
        fields.insert("status".into(), json!("active"));
        let reply = Reply::ok(fields, json!("id-status"));
        let keys: Vec<_> = reply.0.keys().cloned().collect();
        assert_eq!(keys, ["status", "time", "id"]);
        assert_eq!(reply.status(), Some("active"));
        let err = Reply::error(Errno::MessageError, "boom", Value::Null);
        let keys: Vec<_> = err.0.keys().cloned().collect();
        assert_eq!(keys, ["status", "reason", "tb", "time", "errno", "id"]);
    }
}
