//! One module per command or family of commands. Each builds the request exactly as circusctl
//! does (`request`) and renders the reply exactly as circusctl's `console_msg` (`render`);
//! [`crate::dispatch::plan`] is the only dispatcher. `top` lives in its own module tree, [`crate::top`].

pub mod dashboard;
pub mod ipython;
pub mod lifecycle;
pub mod listen;
pub mod nodes;
pub mod options;
pub mod place;
pub mod procs;
pub mod query;
pub mod run;
pub mod set;
pub mod signum;
pub mod stats;
pub mod watch_nodes;
pub mod watcher;

use clusterd_protocol::Reply;
use serde_json::Value;

use crate::pystr::{py_str, py_str_opt};

/// Turns a reply into console text, or says which field circusctl would have crashed on.
pub type Render = fn(&Reply) -> Result<String, Malformed>;

/// Arguments that clap accepted but the command rejects (wrong count, bad value): exit status 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl UsageError {
    /// A usage error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        UsageError(message.into())
    }
}

/// A reply lacking a field the console needs (circusctl dies with a `KeyError` there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed(pub String);

impl Malformed {
    /// The reply lacks `field`, or it has the wrong type.
    pub fn field(field: &str) -> Self {
        Malformed(format!("missing or invalid '{field}'"))
    }
}

/// Every command module builds its request with the protocol crate's one builder.
pub use clusterd_protocol::request;

/// `msg['status'] == "ok"`.
pub fn is_ok(reply: &Reply) -> bool {
    reply.status() == Some("ok")
}

/// circusctl's `console_error`: `error: <reason>` (`None` when there is no reason).
pub fn console_error(reply: &Reply) -> String {
    format!("error: {}", py_str_opt(reply.0.get("reason")))
}

/// circusctl's default `console_msg`: `ok`, or the error.
pub fn default_console(reply: &Reply) -> Result<String, Malformed> {
    Ok(if is_ok(reply) { "ok".into() } else { console_error(reply) })
}

/// The reply's `warning` (one text) and `warnings` (a list), in that order.
pub fn warnings(reply: &Reply) -> Vec<String> {
    let mut found: Vec<String> = reply.0.get("warning").map(py_str).into_iter().collect();
    if let Some(Value::Array(list)) = reply.0.get("warnings") {
        found.extend(list.iter().map(py_str));
    }
    found
}

/// The reply's `key` field, or [`Malformed`] naming it.
pub fn field<'a>(reply: &'a Reply, key: &str) -> Result<&'a Value, Malformed> {
    reply.0.get(key).ok_or_else(|| Malformed::field(key))
}

/// Test helper: a reply parsed from JSON text.
#[cfg(test)]
pub fn reply(text: &str) -> Reply {
    Reply::decode(text.as_bytes()).expect("test reply is a JSON object")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_console_prints_ok_or_the_reason() {
        assert_eq!(default_console(&reply(r#"{"status": "ok", "time": 1.0}"#)).unwrap(), "ok");
        let err = reply(r#"{"status": "error", "reason": "program nope not found", "errno": 3}"#);
        assert_eq!(default_console(&err).unwrap(), "error: program nope not found");
        assert_eq!(default_console(&reply(r#"{"status": "error"}"#)).unwrap(), "error: None");
        assert_eq!(default_console(&reply(r#"{"status": "active"}"#)).unwrap(), "error: None");
    }

    #[test]
    fn warnings_are_collected() {
        let one = reply(r#"{"status": "ok", "warning": "pubsub_endpoint unknown: node tmp3 timed out"}"#);
        assert_eq!(warnings(&one), ["pubsub_endpoint unknown: node tmp3 timed out"]);
        let many = reply(r#"{"status": "ok", "warning": "a", "warnings": ["b", "c"]}"#);
        assert_eq!(warnings(&many), ["a", "b", "c"]);
        assert!(warnings(&reply(r#"{"status": "ok"}"#)).is_empty());
    }
}
