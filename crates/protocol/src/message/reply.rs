//! Replies: built the way circusd builds them (key order included), and read from nodes.

use serde_json::{Map, Value};

use super::{now, type_name};
use crate::errno::Errno;

/// A reply under construction; [`Reply::encode`] gives the wire bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply(pub Map<String, Value>);

impl Reply {
    /// `{"status": "ok", "time": now, <fields>, "id": id}`; a `status` among the fields replaces
    /// `"ok"` in first position, as circusd does for `status <name>`.
    pub fn ok(fields: Map<String, Value>, id: Value) -> Reply {
        let mut map = Map::new();
        map.insert("status".into(), Value::String("ok".into()));
        map.insert("time".into(), Value::from(now()));
        for (key, value) in fields {
            if key != "id" && key != "time" {
                map.insert(key, value);
            }
        }
        map.insert("id".into(), id);
        Reply(map)
    }

    /// `{"status": "error", "reason", "tb": null, "time", "errno", "id"}`.
    pub fn error(errno: Errno, reason: &str, id: Value) -> Reply {
        let mut map = Map::new();
        map.insert("status".into(), Value::String("error".into()));
        map.insert("reason".into(), Value::String(reason.into()));
        map.insert("tb".into(), Value::Null);
        map.insert("time".into(), Value::from(now()));
        map.insert("errno".into(), Value::from(errno.code()));
        map.insert("id".into(), id);
        Reply(map)
    }

    /// Parses a reply received from a node.
    ///
    /// # Errors
    /// A description when the bytes are not a JSON object.
    pub fn decode(bytes: &[u8]) -> Result<Reply, String> {
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(map)) => Ok(Reply(map)),
            Ok(other) => Err(format!("reply is not a JSON object but {}", type_name(&other))),
            Err(err) => Err(format!("reply is not JSON: {err}")),
        }
    }

    /// Why this message cannot be a reply, if so: it has no `status` string, or it carries a
    /// `command` (a request). A TCP connection that connected to itself (a closed port in the
    /// ephemeral range, reached from a source port that happens to be the same) brings the
    /// request back as the "reply": it must never count as an answer.
    pub fn not_a_reply(&self) -> Option<&'static str> {
        if self.0.contains_key("command") {
            Some("it is a request (its own request echoed back: a TCP self-connection?)")
        } else if self.status().is_none() {
            Some("it has no status")
        } else {
            None
        }
    }

    /// The reply's `status` field.
    pub fn status(&self) -> Option<&str> {
        self.0.get("status").and_then(Value::as_str)
    }

    /// True when `status` is `"error"`.
    pub fn is_error(&self) -> bool {
        self.status() == Some("error")
    }

    /// The `reason` of an error reply.
    pub fn reason(&self) -> Option<&str> {
        self.0.get("reason").and_then(Value::as_str)
    }

    /// The `errno` of an error reply.
    pub fn errno(&self) -> Option<u64> {
        self.0.get("errno").and_then(Value::as_u64)
    }

    /// Replaces `id` in place, keeping its position.
    pub fn set_id(&mut self, id: Value) {
        self.0.insert("id".into(), id);
    }

    /// The wire bytes, as circusd's `json.dumps` writes them.
    pub fn encode(&self) -> Vec<u8> {
        crate::pyjson::dumps_map(&self.0).into_bytes()
    }
}
