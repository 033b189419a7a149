//! Requests that concern several nodes: sent in parallel, each with its own deadline, and
//! merged into one Circus reply over the `node:watcher` namespace (circus-protocol.md §6.2).

use std::sync::Arc;

use clusterd_protocol::names::{list_names, thousands, LISTED_NAMES};
use clusterd_protocol::{Errno, Reply, Request};
use futures::future::join_all;
use serde_json::{Map, Value};

use super::route::forward;
use super::{error, ok};
use crate::registry::Node;
use crate::Ctx;

/// Commands that, without a name, go to every node and come back merged.
pub const MERGED_COMMANDS: &[&str] = &[
    "list",
    "status",
    "stats",
    "numwatchers",
    "numprocesses",
    "listsockets",
    "start",
    "stop",
    "restart",
    "reload",
    "reloadconfig",
];

/// Sends `request` to every node of `nodes` at once; a failed node yields an error reply that
/// names it, so one slow node costs only its own deadline.
async fn gather(ctx: &Ctx, nodes: &[Arc<Node>], request: &Request) -> Vec<(Arc<Node>, Reply)> {
    let calls = nodes.iter().map(|node| async move { (node.clone(), forward(ctx, node, request.clone()).await) });
    join_all(calls).await
}

/// One error reply for the nodes that failed: each reason prefixed by its node, and the
/// common errno (5 when they differ).
fn failures(results: &[(Arc<Node>, Reply)]) -> Option<Reply> {
    let failed: Vec<&(Arc<Node>, Reply)> = results.iter().filter(|(_, reply)| reply.is_error()).collect();
    let first = failed.first()?;
    let errno = first.1.errno();
    let same = failed.iter().all(|(_, reply)| reply.errno() == errno);
    let errno = match errno {
        Some(1) if same => Errno::InvalidJson,
        Some(2) if same => Errno::UnknownCommand,
        Some(3) if same => Errno::MessageError,
        _ => Errno::CommandError,
    };
    let reasons: Vec<String> = failed
        .iter()
        .map(|(node, reply)| {
            let reason = reply.reason().unwrap_or("error");
            if reason.starts_with(&format!("node {} ", node.name)) {
                reason.to_string()
            } else {
                format!("node {}: {reason}", node.name)
            }
        })
        .collect();
    // At most LISTED_NAMES reasons: the reply must not grow with the cluster.
    let mut reason = reasons[..reasons.len().min(LISTED_NAMES)].join("; ");
    if reasons.len() > LISTED_NAMES {
        reason.push_str(&format!("; ... and {} more", thousands(reasons.len() - LISTED_NAMES)));
    }
    Some(error(errno, &reason))
}

/// A request without a name, sent to every node, merged per command.
pub async fn merge(ctx: &Ctx, request: Request) -> Reply {
    let results = gather(ctx, &ctx.registry.all(), &request).await;
    if let Some(failed) = failures(&results) {
        return failed;
    }
    let mut fields = Map::new();
    match request.command.as_str() {
        "list" => {
            let mut watchers: Vec<String> =
                results.iter().flat_map(|(node, reply)| qualified_items(node, reply, "watchers")).collect();
            watchers.sort();
            fields.insert("watchers".into(), watchers.into());
        }
        "status" => {
            fields.insert("statuses".into(), Value::Object(qualified_map(&results, "statuses")));
        }
        "stats" => {
            fields.insert("infos".into(), Value::Object(qualified_map(&results, "infos")));
        }
        "numwatchers" | "numprocesses" => {
            let key = request.command.as_str();
            let sum: u64 = results.iter().filter_map(|(_, reply)| reply.0.get(key).and_then(Value::as_u64)).sum();
            fields.insert(key.into(), sum.into());
        }
        "listsockets" => {
            let sockets: Vec<Value> = results
                .iter()
                .flat_map(|(node, reply)| {
                    let list = reply.0.get("sockets").and_then(Value::as_array).cloned().unwrap_or_default();
                    list.into_iter().map(move |mut socket| {
                        if let Some(Value::String(name)) = socket.get_mut("name") {
                            *name = format!("{}:{name}", node.name);
                        }
                        socket
                    })
                })
                .collect();
            fields.insert("sockets".into(), sockets.into());
        }
        // start/stop/restart/reload/reloadconfig on every node: a bare ok, as circusd gives
        // for arbiter-wide commands.
        _ => {}
    }
    ok(fields)
}

fn qualified_items(node: &Node, reply: &Reply, key: &str) -> Vec<String> {
    let items = reply.0.get(key).and_then(Value::as_array).cloned().unwrap_or_default();
    items.iter().filter_map(Value::as_str).map(|w| format!("{}:{w}", node.name)).collect()
}

fn qualified_map(results: &[(Arc<Node>, Reply)], key: &str) -> Map<String, Value> {
    let mut merged = Map::new();
    for (node, reply) in results {
        if let Some(Value::Object(map)) = reply.0.get(key) {
            for (watcher, value) in map {
                merged.insert(format!("{}:{watcher}", node.name), value.clone());
            }
        }
    }
    merged
}

/// A request sent to each of `nodes` (a node-set expression), answered with every node's reply
/// under `replies` (without their upstream ids). The status is `ok` when every node succeeded,
/// else an error whose reason counts and names the failed nodes; `replies` holds them all.
pub async fn gathered(ctx: &Ctx, nodes: &[Arc<Node>], request: Request) -> Reply {
    let results = gather(ctx, nodes, &request).await;
    let mut replies = Map::new();
    for (node, reply) in &results {
        let mut reply = reply.0.clone();
        reply.remove("id");
        replies.insert(node.name.clone(), Value::Object(reply));
    }
    let mut reply = match failures(&results) {
        None => ok(Map::new()),
        Some(failed) => {
            let count = results.iter().filter(|(_, reply)| reply.is_error()).count();
            let reason = format!("{count} of {} nodes failed: {}", results.len(), failed.reason().unwrap_or_default());
            error(Errno::CommandError, &reason)
        }
    };
    // `replies` goes before `id`, which stays last as in every Circus reply.
    let id = reply.0.remove("id").unwrap_or(Value::Null);
    reply.0.insert("replies".into(), Value::Object(replies));
    reply.0.insert("id".into(), id);
    reply
}

/// start/stop/restart of a watcher pattern on several nodes. Nodes where the pattern matches
/// nothing answer "not found" and are skipped; a single hit returns that node's reply (with
/// `info` when waiting), several a bare ok, as circusd does for several watchers.
pub async fn pattern(ctx: &Ctx, mut request: Request, nodes: &[Arc<Node>], watcher: &str, full: &str) -> Reply {
    request.properties.insert("name".into(), Value::String(watcher.to_string()));
    let results = gather(ctx, nodes, &request).await;
    let (misses, others): (Vec<_>, Vec<_>) = results.into_iter().partition(|(_, reply)| is_not_found(reply));
    if let Some(failed) = failures(&others) {
        return failed;
    }
    match others.len() {
        0 if misses.is_empty() => error(Errno::MessageError, &format!("program {full} not found: no nodes")),
        0 => error(Errno::MessageError, &format!("program {full} not found")),
        1 => others.into_iter().next().map(|(_, reply)| reply).expect("one hit"),
        _ => ok(Map::new()),
    }
}

/// circusd's errno 3 `program X not found`.
fn is_not_found(reply: &Reply) -> bool {
    reply.errno() == Some(3) && reply.reason().is_some_and(|r| r.starts_with("program ") && r.ends_with("not found"))
}

/// The one node that has watcher `name` (asked with `list` on every node).
///
/// # Errors
/// No node or several nodes have it (the reason says which), or nodes failed to answer.
pub async fn find_watcher(ctx: &Ctx, name: &str) -> Result<Arc<Node>, String> {
    let list = Request::new("list", Map::new());
    let results = gather(ctx, &ctx.registry.all(), &list).await;
    let wanted = name.to_lowercase();
    let mut holders = Vec::new();
    let mut silent = Vec::new();
    for (node, reply) in results {
        if reply.is_error() {
            silent.push(node.name.clone());
        } else if qualified_items(&node, &reply, "watchers").iter().any(|w| w == &format!("{}:{wanted}", node.name)) {
            holders.push(node);
        }
    }
    match holders.len() {
        1 => Ok(holders.remove(0)),
        0 if silent.is_empty() => Err(format!("program {name} not found")),
        0 => Err(format!("program {name} not found (nodes that did not answer: {})", list_names(&silent))),
        _ => {
            let names: Vec<&str> = holders.iter().map(|n| n.name.as_str()).collect();
            Err(format!("program {name} is on several nodes ({}): name one as node:{name}", list_names(&names)))
        }
    }
}
