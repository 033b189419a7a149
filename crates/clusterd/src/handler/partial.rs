//! Merged reads when some nodes gave no answer (`merged_reads = "partial"`, the default): the
//! reply keeps every answering node's results, names each missing node in `missing`, and
//! carries one line per missing node in the very field stock circusctl prints, so an operator
//! sees `second: unreachable (down, last seen 12s ago)` on screen and not only in JSON.

use std::sync::Arc;

use clusterd_protocol::message::now;
use serde_json::{json, Map, Value};

use crate::link::NodeError;
use crate::registry::Node;

/// A node that gave no answer, and why.
pub type Missing = (Arc<Node>, NodeError);

/// `{"state", "last_seen", "reason"}` for one missing node: its liveness as the master saw it
/// and the one-line reason of the failed call.
fn entry(node: &Node, err: &NodeError) -> Value {
    let health = node.link.health();
    json!({
        "state": health.state.as_str(),
        "last_seen": health.last_seen,
        "reason": err.describe(&node.name),
    })
}

/// The `missing` field: `{node: entry}`.
pub fn missing_field(missing: &[Missing]) -> Value {
    Value::Object(missing.iter().map(|(node, err)| (node.name.clone(), entry(node, err))).collect())
}

/// `unreachable (down, last seen 12s ago)`: what happened and the node's state, for screens.
pub fn note(node: &Node, err: &NodeError) -> String {
    let what = match err {
        NodeError::Timeout(after) => format!("no answer within {}", humantime::format_duration(*after)),
        _ => "unreachable".to_string(),
    };
    let health = node.link.health();
    let seen = match health.last_seen {
        Some(at) => format!("last seen {:.0}s ago", (now() - at).max(0.0)),
        None => "never seen".to_string(),
    };
    format!("{what} ({}, {seen})", health.state.as_str())
}

/// `second: unreachable (down, last seen 12s ago)`.
fn line(node: &Node, err: &NodeError) -> String {
    format!("{}: {}", node.name, note(node, err))
}

/// Adds the missing nodes to the merged `fields` of `command`, where circusctl 0.19's
/// `console_msg` prints them (docs/protocol.md, "Partial results").
pub fn annotate(command: &str, fields: &mut Map<String, Value>, missing: &[Missing]) {
    if missing.is_empty() {
        return;
    }
    match command {
        // Printed sorted as `key: value`: the bare node name sorts next to its watchers.
        "status" => {
            if let Some(Value::Object(statuses)) = fields.get_mut("statuses") {
                for (node, err) in missing {
                    statuses.insert(node.name.clone(), note(node, err).into());
                }
            }
        }
        // Printed joined by commas, after the sorted watchers.
        "list" => {
            if let Some(Value::Array(watchers)) = fields.get_mut("watchers") {
                watchers.extend(missing.iter().map(|(node, err)| Value::String(line(node, err))));
            }
        }
        // Printed as `watcher:` then `key: value` lines.
        "stats" => {
            if let Some(Value::Object(infos)) = fields.get_mut("infos") {
                for (node, err) in missing {
                    infos.insert(node.name.clone(), json!({ "node": note(node, err) }));
                }
            }
        }
        // Printed as `str(value)`: the count becomes text that says what it leaves out; the
        // number stays in `counted` for programs.
        "numwatchers" | "numprocesses" => {
            let counted = fields.get(command).cloned().unwrap_or(Value::from(0));
            let lines: Vec<String> = missing.iter().map(|(node, err)| line(node, err)).collect();
            fields.insert(command.into(), format!("{counted} (without {})", lines.join("; ")).into());
            fields.insert("counted".into(), counted);
        }
        // Printed as `fd:socket 'name' at path`; `missing: true` tells programs it is no socket.
        "listsockets" => {
            if let Some(Value::Array(sockets)) = fields.get_mut("sockets") {
                for (node, err) in missing {
                    sockets.push(json!({"fd": -1, "name": node.name, "path": note(node, err), "missing": true}));
                }
            }
        }
        _ => {}
    }
    fields.insert("missing".into(), missing_field(missing));
}
