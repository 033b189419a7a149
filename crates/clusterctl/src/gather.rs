//! Gathered replies: the master's answer to a request sent to a node set,
//! `{"status", "time", "replies": {node: reply}, "id"}`, printed the way `clush -b` prints.
//!
//! Console format ([`render_console`]): every node's reply is rendered with the command's own
//! renderer (the text circusctl prints for that node alone); nodes whose texts are identical form
//! one group, printed as
//!
//! ```text
//! ---------------
//! first,third (2)
//! ---------------
//! active
//! ```
//!
//! largest group first (ties in node order). Failed nodes (reply `status` `"error"`) follow on
//! stderr, grouped by reason, after a rule: `second (1): node second timed out after 4s`. Node
//! lists are folded (`web[1-3]`, see [`crate::fold`]).
//!
//! JSON format ([`json_lines`]): one object per node, in node order, `{"node": ..., "reply": {...}}`.

use std::io::Write;

use clusterd_protocol::{pyjson, Reply};
use serde_json::{json, Map, Value};

use crate::commands::Render;
use crate::error::{exit, CtlError};
use crate::fold::{fold, natural_cmp};
use crate::pystr::py_str_opt;

/// The rule around group headers, as `clush -b`'s.
pub const RULE: &str = "---------------";

/// One node's reply in a gathered reply.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeReply {
    /// The node's name.
    pub node: String,
    /// Its reply (no `id`).
    pub reply: Reply,
}

impl NodeReply {
    /// True when the node failed: its reply's `status` is `"error"`.
    pub fn failed(&self) -> bool {
        self.reply.is_error()
    }

    /// The failure reason on one line (`None` when the reply has none).
    pub fn reason(&self) -> String {
        one_line(&py_str_opt(self.reply.0.get("reason")))
    }
}

/// Every node's reply, in natural node order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Gathered {
    /// The replies, one per node.
    pub replies: Vec<NodeReply>,
}

impl Gathered {
    /// The per-node replies of a gathered reply; `None` when `reply` has no `replies` object
    /// (a single node's reply, or an error about the request itself).
    pub fn from_reply(reply: &Reply) -> Option<Gathered> {
        let Some(Value::Object(replies)) = reply.0.get("replies") else {
            return None;
        };
        let mut gathered: Vec<NodeReply> =
            replies.iter().map(|(node, value)| NodeReply { node: node.clone(), reply: node_reply(value) }).collect();
        gathered.sort_by(|a, b| natural_cmp(&a.node, &b.node));
        Some(Gathered { replies: gathered })
    }

    /// Every one of `nodes` failing for the same `reason`.
    pub fn all_failed(nodes: &[String], reason: &str) -> Gathered {
        let replies = nodes.iter().map(|node| NodeReply { node: node.clone(), reply: error_reply(reason) }).collect();
        Gathered { replies }
    }

    /// True when at least one node failed.
    pub fn any_failed(&self) -> bool {
        self.replies.iter().any(NodeReply::failed)
    }

    /// The reply of `node`, if it is part of this reply.
    pub fn get(&self, node: &str) -> Option<&NodeReply> {
        self.replies.iter().find(|reply| reply.node == node)
    }
}

/// `{"status": "error", "reason": reason}`: a failure made up on the client's side.
pub fn error_reply(reason: &str) -> Reply {
    let mut map = Map::new();
    map.insert("status".into(), Value::String("error".into()));
    map.insert("reason".into(), Value::String(reason.into()));
    Reply(map)
}

/// A node's entry: an object as is, anything else as a failure.
fn node_reply(value: &Value) -> Reply {
    match value {
        Value::Object(map) => Reply(map.clone()),
        other => error_reply(&format!("malformed reply: expected an object, got {}", pyjson::dumps(other))),
    }
}

/// Text for the console: groups on stdout, failures on stderr.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Console {
    /// The groups of identical outputs.
    pub out: String,
    /// The failures grouped by reason (empty when every node succeeded).
    pub err: String,
}

/// Groups nodes by identical rendered output (successes) or reason (failures). A reply the
/// renderer cannot print counts as a failure.
pub fn render_console(gathered: &Gathered, render: Render) -> Console {
    let mut outputs: Vec<(String, Vec<String>)> = Vec::new();
    let mut failures: Vec<(String, Vec<String>)> = Vec::new();
    for reply in &gathered.replies {
        let (text, groups) = if reply.failed() {
            (reply.reason(), &mut failures)
        } else {
            match render(&reply.reply) {
                Ok(text) => (text, &mut outputs),
                Err(malformed) => (format!("malformed reply: {}", malformed.0), &mut failures),
            }
        };
        match groups.iter_mut().find(|(seen, _)| *seen == text) {
            Some((_, nodes)) => nodes.push(reply.node.clone()),
            None => groups.push((text, vec![reply.node.clone()])),
        }
    }
    let mut console = Console::default();
    for (text, nodes) in ordered(outputs) {
        console.out.push_str(&format!("{RULE}\n{} ({})\n{RULE}\n{text}\n", fold(&nodes), nodes.len()));
    }
    let failures = ordered(failures);
    if !failures.is_empty() {
        console.err.push_str(RULE);
        console.err.push('\n');
    }
    for (reason, nodes) in failures {
        console.err.push_str(&format!("{} ({}): {reason}\n", fold(&nodes), nodes.len()));
    }
    console
}

/// Largest group first; equal sizes in the order of their first node.
pub fn ordered<T>(mut groups: Vec<(T, Vec<String>)>) -> Vec<(T, Vec<String>)> {
    groups.sort_by(|(_, a), (_, b)| b.len().cmp(&a.len()).then_with(|| natural_cmp(&a[0], &b[0])));
    groups
}

/// One JSON object per node: `{"node": ..., "reply": {...}}`, compact (Python's `json.dumps`) or
/// with `pretty` indented with sorted keys.
pub fn json_lines(gathered: &Gathered, pretty: bool) -> Vec<String> {
    gathered
        .replies
        .iter()
        .map(|reply| {
            let value = json!({ "node": reply.node, "reply": Value::Object(reply.reply.0.clone()) });
            if pretty {
                pyjson::dumps_pretty(&value)
            } else {
                pyjson::dumps(&value)
            }
        })
        .collect()
}

/// Prints a gathered reply (console groups or JSON lines). Status 0 when every node succeeded,
/// 3 when any failed; with `--json` 0 whatever the replies, as for a single reply.
///
/// # Errors
/// Writing failed.
pub fn print(
    reply: &Reply,
    gathered: &Gathered,
    render: Render,
    json: bool,
    pretty: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, CtlError> {
    if json {
        for line in json_lines(gathered, pretty) {
            writeln!(out, "{line}")?;
        }
        return Ok(exit::OK);
    }
    let console = render_console(gathered, render);
    out.write_all(console.out.as_bytes())?;
    out.flush()?;
    err.write_all(console.err.as_bytes())?;
    if gathered.any_failed() || reply.is_error() {
        Ok(exit::ERROR_REPLY)
    } else {
        Ok(exit::OK)
    }
}

/// `text` with its line breaks turned into spaces.
pub fn one_line(text: &str) -> String {
    if text.contains(['\n', '\r']) {
        text.lines().map(str::trim).filter(|line| !line.is_empty()).collect::<Vec<_>>().join(" ")
    } else {
        text.to_string()
    }
}

#[cfg(test)]
#[path = "gather_tests.rs"]
mod tests;
