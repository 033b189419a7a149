//! Requests without a name that concern every node: sent in parallel ([`super::gather`]) and
//! merged into one Circus reply over the `node:watcher` namespace (circus-protocol.md §6.2).
//! Changes over several nodes are reported per node by [`changes`].

use std::sync::Arc;

use clusterd_protocol::names::list_names;
use clusterd_protocol::{Reply, Request};
use serde_json::{Map, Value};

use super::gather::{as_replies, failures, gather, partial_allowed, split};
use super::table::Merged;
use super::{changes, ok, partial};
use crate::registry::Node;
use crate::Ctx;

/// A request without a name, sent to every node, merged per command as the table says
/// (`merged`). A read leaves out the nodes that gave no answer and names them ([`partial`]);
/// with `merged_reads = "strict"` they make it an error.
pub async fn merge(ctx: &Ctx, request: Request, merged: Merged) -> Reply {
    let command = request.command.as_str();
    let results = gather(ctx, &ctx.registry.all(), &request).await;
    if merged != Merged::Read {
        // start/stop/restart/reload on every node.
        return changes::merged(results);
    }
    let (results, missing) =
        if partial_allowed(ctx, &results) { split(results) } else { (as_replies(results), vec![]) };
    if let Some(failed) = failures(&results) {
        return failed;
    }
    let mut fields = Map::new();
    match command {
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
            let sum: u64 = results.iter().filter_map(|(_, reply)| reply.0.get(command).and_then(Value::as_u64)).sum();
            fields.insert(command.into(), sum.into());
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
        _ => {}
    }
    partial::annotate(command, &mut fields, &missing);
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

/// The one node that has watcher `name` (asked with `list` on every node).
///
/// # Errors
/// No node or several nodes have it (the reason says which), or nodes failed to answer.
pub async fn find_watcher(ctx: &Ctx, name: &str) -> Result<Arc<Node>, String> {
    let list = Request::new("list", Map::new());
    let results = as_replies(gather(ctx, &ctx.registry.all(), &list).await);
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
