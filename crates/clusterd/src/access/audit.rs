//! The audit trail: one event per command that changes something (the command table's
//! `audited`: every command but the read-only ones, unknown commands included), on the tracing target [`TARGET`], with the client,
//! the endpoint it came in on, the nodes it addressed, the command and the outcome. Refusals
//! (read-only endpoint, wrong `register_secret`) are audited too: they are attempted changes.
//!
//! `audit_log = "FILE"` sends these events to their own file, one JSON object a line
//! ([`super::audit_file`]); without it they go to stderr with the rest of the log. Properties
//! are never logged: they may carry a `secret`.

use std::fmt::Write as _;

use clusterd_protocol::names::split_qualified;
use clusterd_protocol::{Reply, Request};
use serde_json::Value;
use tracing::info;

use super::Door;
use crate::handler::table::{self, Answered};
use crate::Ctx;

/// The tracing target of audit events.
pub const TARGET: &str = "clusterd::audit";

/// `nodes` of a request that named no node: it went to every node, or to the only node that has
/// the watcher it names.
const ALL: &str = "all";
/// `nodes` of a command the master answers itself (`quit`, `reloadconfig`).
const MASTER: &str = "master";

/// An audited request, between its arrival and its reply.
pub struct Entry {
    client: String,
    door: Door,
    command: String,
    nodes: String,
}

impl Entry {
    /// Starts the entry of `request`; `None` when it changes nothing and is not audited.
    pub fn begin(ctx: &Ctx, door: Door, identity: &[u8], request: &Request) -> Option<Entry> {
        if !table::is_audited(&request.command) {
            return None;
        }
        // HTTP clients have no ZeroMQ identity: theirs is the text `http:<peer address>`.
        let client = if door == Door::Http { String::from_utf8_lossy(identity).into_owned() } else { hex(identity) };
        Some(Entry { client, door, command: request.command.clone(), nodes: addressed(ctx, request) })
    }

    /// Emits the event with the outcome of `reply`. A gathered reply (node set) names the nodes
    /// that were actually asked.
    pub fn finish(self, reply: &Reply) {
        let nodes = match reply.0.get("replies") {
            Some(Value::Object(replies)) => replies.keys().cloned().collect::<Vec<_>>().join(","),
            _ => self.nodes,
        };
        let (client, endpoint, command) = (self.client, self.door.as_str(), self.command);
        if reply.is_error() {
            let reason = reply.reason().unwrap_or_default();
            let errno = reply.errno().unwrap_or_default();
            info!(target: TARGET, client, endpoint, command, nodes, outcome = "error", errno, reason, "audit");
        } else {
            info!(target: TARGET, client, endpoint, command, nodes, outcome = "ok", "audit");
        }
    }
}

/// The nodes `request` addresses, as far as the request itself says: `properties.node` (a name
/// or a node-set expression), the node of a registry command, the node of a qualified watcher
/// name, else [`MASTER`] or [`ALL`].
fn addressed(ctx: &Ctx, request: &Request) -> String {
    let text = |key: &str| request.properties.get(key).and_then(Value::as_str);
    if let Some(node) = text("node") {
        return node.to_string();
    }
    if matches!(request.command.as_str(), "register_node" | "unregister_node") {
        return text("name").or(text("node_name")).unwrap_or_default().to_string();
    }
    if let Some((node, _)) = text("name").and_then(|name| split_qualified(name, |n| ctx.registry.contains(n))) {
        return node.to_string();
    }
    if table::find(&request.command).is_some_and(|row| matches!(row.answered, Answered::MasterUnlessNode(_))) {
        MASTER.to_string()
    } else {
        ALL.to_string()
    }
}

/// The ROUTER identity as lowercase hex (libzmq makes up 5 binary bytes for clients that set
/// none; circusctl's is 32 hex digits, shown hex-encoded like any other).
fn hex(identity: &[u8]) -> String {
    identity.iter().fold(String::with_capacity(identity.len() * 2), |mut out, byte| {
        let _ = write!(out, "{byte:02x}");
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_are_hex() {
        assert_eq!(hex(&[0, 0x6b, 0x8b, 0x45, 0x67]), "006b8b4567");
        assert_eq!(hex(b"ab"), "6162");
    }
}
