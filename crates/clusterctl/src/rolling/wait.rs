//! `--wait`: which watcher a command names and the state to expect, and the polling of
//! `status <watcher>` until the batch's nodes get there.

use std::thread::sleep;
use std::time::Instant;

use clusterd_protocol::Request;
use serde_json::{json, Value};

use super::Roll;
use crate::commands::{request, UsageError};
use crate::master::{call_nodes, Master};

/// A watcher and the state `--wait` expects it in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitTarget {
    /// The watcher polled with `status`.
    pub watcher: String,
    /// `active`, or `stopped` after `stop`.
    pub state: &'static str,
}

/// Commands that name one watcher, which `--wait` can poll.
const WATCHER_COMMANDS: [&str; 10] =
    ["start", "restart", "reload", "incr", "decr", "set", "signal", "kill", "add", "stop"];

/// What `--wait` waits for after `request`.
///
/// # Errors
/// The command names no watcher, or names it by a pattern.
pub fn wait_target(request: &Request) -> Result<WaitTarget, UsageError> {
    let name = request.properties.get("name").and_then(Value::as_str);
    let (true, Some(name)) = (WATCHER_COMMANDS.contains(&request.command.as_str()), name) else {
        return Err(UsageError::new("--wait needs a command naming a watcher (start, restart, reload, incr, ...)"));
    };
    let method = request.properties.get("match").and_then(Value::as_str).unwrap_or("simple");
    if method == "regex" || (method == "glob" && name.contains(['*', '?', '['])) {
        return Err(UsageError::new("--wait needs a plain watcher name, not a pattern"));
    }
    let started = request.properties.get("start").and_then(Value::as_bool).unwrap_or(false);
    let stopped = request.command == "stop" || (request.command == "add" && !started);
    Ok(WaitTarget { watcher: name.to_string(), state: if stopped { "stopped" } else { "active" } })
}

/// Polls `status <watcher>` on `nodes` until each reports the target state or the bound passes;
/// one result per node, in `nodes`' order.
pub fn wait_for(
    master: &dyn Master,
    target: &WaitTarget,
    nodes: &[String],
    roll: &Roll,
) -> Vec<(String, Result<(), String>)> {
    let deadline = Instant::now() + roll.wait_bound;
    let status = request("status", json!({ "name": target.watcher }));
    let mut pending = nodes.to_vec();
    let mut reached = Vec::new();
    let mut last: Vec<(String, String)> = Vec::new();
    loop {
        for reply in call_nodes(master, &status, &pending).replies {
            let state = reply.reply.status().unwrap_or("None").to_string();
            if !reply.failed() && state == target.state {
                reached.push(reply.node);
            } else {
                let seen = if reply.failed() {
                    format!("last error: {}", reply.reason())
                } else {
                    format!("last status: {state}")
                };
                last.retain(|(node, _)| *node != reply.node);
                last.push((reply.node, seen));
            }
        }
        pending.retain(|node| !reached.contains(node));
        let now = Instant::now();
        if pending.is_empty() || now >= deadline {
            break;
        }
        sleep(roll.poll_every.min(deadline - now));
    }
    let bound = roll.wait_bound.as_secs_f64();
    nodes
        .iter()
        .map(|node| {
            if reached.contains(node) {
                return (node.clone(), Ok(()));
            }
            let seen = last.iter().find(|(n, _)| n == node).map_or("no reply", |(_, seen)| seen.as_str());
            (node.clone(), Err(format!("{} not {} after {bound}s ({seen})", target.watcher, target.state)))
        })
        .collect()
}
