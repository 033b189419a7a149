//! Routing by node: `properties.node`, node-qualified watcher names (`first:dummy`,
//! `first.dummy`), and unqualified names resolved to the one node that has the watcher.

use std::sync::Arc;

use clusterd_protocol::names::{list_names, quoted, split_qualified};
use clusterd_protocol::nodeset::{self, Member};
use clusterd_protocol::{Errno, Reply, Request};
use serde_json::Value;

use super::forward::forward;
use super::table::{self, Merged};
use super::{changes, error, fanout};
use crate::registry::Node;
use crate::Ctx;

/// What `properties.node` names.
pub enum NodeTarget {
    /// One plain node name: the node's own reply is relayed.
    One(Arc<Node>),
    /// A node-set expression: every selected node answers, in a gathered reply.
    Set(Vec<Arc<Node>>),
}

/// Removes `properties.node` and resolves it: a plain name or a node-set expression
/// (`first,third`, `web*`, `node[1-3]`, `@eu`, `all!second`).
///
/// # Errors
/// An errno 3 reply when `node` is not a string, names no known node, or selects none.
pub fn take_node_property(ctx: &Ctx, request: &mut Request) -> Result<Option<NodeTarget>, Reply> {
    let name = match request.properties.remove("node") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(name)) => name,
        Some(other) => {
            let reason = format!("'node' must be a string, got {}", clusterd_protocol::message::type_name(&other));
            return Err(error(Errno::MessageError, &reason));
        }
    };
    if nodeset::is_expression(&name) {
        let nodes = resolve_set(ctx, &name).map_err(|reason| error(Errno::MessageError, &reason))?;
        return Ok(Some(NodeTarget::Set(nodes)));
    }
    let node = ctx.registry.get(&name).ok_or_else(|| error(Errno::MessageError, &unknown_node(ctx, &name)))?;
    // `--node first` with `first:dummy` is redundant but clear; strip the prefix.
    if let Ok(Some(watcher)) = request.str_property("name") {
        if let Some((prefix, rest)) = split_qualified(watcher, |n| n == name) {
            if prefix == name {
                let rest = rest.to_string();
                request.properties.insert("name".into(), Value::String(rest));
            }
        }
    }
    Ok(Some(NodeTarget::One(node)))
}

/// The nodes a node-set expression selects, in name order.
///
/// # Errors
/// A malformed expression, or one that selects no node.
pub fn resolve_set(ctx: &Ctx, expr: &str) -> Result<Vec<Arc<Node>>, String> {
    let set = nodeset::parse(expr)?;
    let nodes = ctx.registry.all();
    let members: Vec<Member<'_>> = nodes.iter().map(|n| Member { name: &n.name, tags: &n.tags }).collect();
    // A set, not the list: looking each node up in the list was quadratic (4 % of a fan-out
    // over 1,000 nodes).
    let selected: std::collections::HashSet<&str> = set.resolve(&members)?.into_iter().collect();
    Ok(nodes.iter().filter(|n| selected.contains(n.name.as_str())).cloned().collect())
}

/// Routes a request that names no node explicitly.
pub async fn route(ctx: &Ctx, mut request: Request) -> Reply {
    let command = request.command.clone();
    let name = match request.str_property("name") {
        Err(reason) => return error(Errno::MessageError, &reason),
        Ok(name) => name.map(str::to_string),
    };
    let row = table::find(&command);
    let Some(name) = name else {
        let merged = row.map_or(Merged::No, |row| row.merged);
        return if merged != Merged::No {
            fanout::merge(ctx, request, merged).await
        } else if row.is_some_and(|row| row.name_required) {
            error(Errno::MessageError, "message invalid 'name' is missing")
        } else {
            let reason = format!(
                "unknown command: '{command}' (the master forwards commands it does not know only to a named node: \
                 set properties.node or use a node:watcher name)"
            );
            error(Errno::UnknownCommand, &reason)
        };
    };
    let is_pattern = row.is_some_and(|row| row.pattern);
    match split_qualified(&name, |n| ctx.registry.contains(n)) {
        Some((node_part, watcher)) => {
            // `*:web`, `@eu:web`, `node[1-3]:web`: a node set. start/stop/restart keep
            // circusd's merged reply (stock clients print it); other commands are gathered.
            if nodeset::is_expression(node_part) {
                let nodes = match resolve_set(ctx, node_part) {
                    Ok(nodes) => nodes,
                    Err(reason) => return error(Errno::MessageError, &reason),
                };
                if is_pattern {
                    return changes::pattern(ctx, request, &nodes, watcher, &name).await;
                }
                request.properties.insert("name".into(), Value::String(watcher.to_string()));
                return changes::gathered(ctx, &nodes, request).await;
            }
            let Some(node) = ctx.registry.get(node_part) else {
                return error(
                    Errno::MessageError,
                    &format!("program {name} not found: {}", unknown_node(ctx, node_part)),
                );
            };
            request.properties.insert("name".into(), Value::String(watcher.to_string()));
            let mut reply = forward(ctx, &node, request).await;
            reprefix(&mut reply, watcher, &name);
            reply
        }
        None if is_pattern => changes::pattern(ctx, request, &ctx.registry.all(), &name, &name).await,
        None if command == "add" => crate::placement::place::place(ctx, request).await,
        None if command == "rm" && crate::placement::commands::is_placed(ctx, &name) => {
            crate::placement::commands::rm_placed(ctx, request, &name).await
        }
        None => match fanout::find_watcher(ctx, &name).await {
            Ok(node) => forward(ctx, &node, request).await,
            Err(reason) => error(Errno::MessageError, &reason),
        },
    }
}

/// Puts the client's qualified name back where the node echoed the bare one
/// (`watcher_name` of `numprocesses`, `name` of `stats`).
pub(super) fn reprefix(reply: &mut Reply, bare: &str, qualified: &str) {
    for key in ["watcher_name", "name"] {
        if let Some(Value::String(echoed)) = reply.0.get_mut(key) {
            if echoed.eq_ignore_ascii_case(bare) {
                *echoed = qualified.to_string();
            }
        }
    }
}

/// "unknown node 'x' (nodes: a, b)": the name quoted in part and the list truncated
/// ("... and 4,995 more"), so that the reply stays small whatever was asked.
pub fn unknown_node(ctx: &Ctx, name: &str) -> String {
    let names = ctx.registry.names();
    let name = quoted(name);
    if names.is_empty() {
        format!("unknown node {name} (no nodes are registered)")
    } else {
        format!("unknown node {name} (nodes: {})", list_names(&names))
    }
}
