//! Which requests the command endpoint's shortcut may forward itself: those that [`super::handle`]
//! would send, unchanged but for the routing, to one node and relay that node's reply
//! ([`super::forward::forward`]). Every other request (and any doubt) is left to
//! [`super::handle`], which gives the answer it always gave.

use std::sync::Arc;

use clusterd_protocol::names::split_qualified;
use clusterd_protocol::nodeset;
use clusterd_protocol::{Reply, Request};
use serde_json::Value;

use super::table::{self, Answered};
use crate::link::NodeError;
use crate::registry::Node;
use crate::Ctx;

/// A request bound for one node, as the node must get it.
pub struct Direct {
    /// The node.
    pub node: Arc<Node>,
    /// The watcher name the client qualified with the node (`first:dummy`), put back in the
    /// node's reply where the node echoes the bare one ([`Direct::relay`]).
    renamed: Option<(String, String)>,
}

impl Direct {
    /// The node's `reply` as [`super::handle`] would relay it (its `id` is the caller's to set).
    pub fn relay(&self, mut reply: Reply) -> Reply {
        if let Some((bare, qualified)) = &self.renamed {
            super::route::reprefix(&mut reply, bare, qualified);
        }
        reply
    }

    /// The errno 5 reply for a node that gave no answer, as [`super::handle`] gives it.
    pub fn unanswered(&self, err: &NodeError) -> Reply {
        super::forward::no_answer(&self.node, err)
    }
}

/// The one node `request` is for, with `request` rewritten as that node gets it (`node` removed,
/// `name` unqualified); `None` (and `request` untouched) when it is anything else: a cast, a
/// command of the master's, a node set, an unknown node, a name to look up on every node, or a
/// property of the wrong type.
pub fn one_node(ctx: &Ctx, request: &mut Request) -> Option<Direct> {
    if request.cast || super::check_common(request).is_err() {
        return None;
    }
    let answered = table::find(&request.command).map_or(Answered::Nodes, |row| row.answered);
    if matches!(answered, Answered::Master(_)) {
        return None;
    }
    let name = request.str_property("name").ok()?.map(str::to_string);
    match request.properties.get("node") {
        None | Some(Value::Null) => {
            // `first:dummy`: routed by the qualified name (the master's own commands keep theirs).
            if !matches!(answered, Answered::Nodes) {
                return None;
            }
            let qualified = name?;
            let (node_part, watcher) = split_qualified(&qualified, |n| ctx.registry.contains(n))?;
            if nodeset::is_expression(node_part) {
                return None;
            }
            let node = ctx.registry.get(node_part)?;
            let watcher = watcher.to_string();
            request.properties.insert("name".into(), Value::String(watcher.clone()));
            Some(Direct { node, renamed: Some((watcher, qualified)) })
        }
        Some(Value::String(node_name)) => {
            if nodeset::is_expression(node_name) {
                return None;
            }
            let node = ctx.registry.get(node_name)?;
            // `--node first` with `first:dummy` has its prefix stripped by the full path.
            if name.as_deref().and_then(|name| split_qualified(name, |n| n == node.name)).is_some() {
                return None;
            }
            request.properties.remove("node");
            Some(Direct { node, renamed: None })
        }
        Some(_) => None,
    }
}
