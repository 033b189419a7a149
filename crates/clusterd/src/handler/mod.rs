//! What the master does with each request: the one dispatcher.
//!
//! Order of decisions:
//! 1. cluster commands (`register_node`, `unregister_node`, `nodes`, `nodelist`, `nodeset`)
//!    are always the master's own;
//! 2. a request with `properties.node` goes to that node, `node` removed, anything else as is
//!    (commands the master does not know included); a node-set expression there sends it to
//!    every selected node and gathers their replies;
//! 3. master-local commands (`globaloptions`, `dstats`, `quit`, `reloadconfig` (the master's
//!    own configuration), `listen`, `ipython`);
//! 4. everything else is routed by watcher name ([`route`]): a qualified name to its node,
//!    no name to every node with merged replies ([`fanout`]).
//!
//! Every reply leaves with the client's `id`, whatever built it.

mod changes;
mod cluster;
mod fanout;
mod local;
mod partial;
mod route;

use clusterd_protocol::{Errno, Reply, Request};
use serde_json::{Map, Value};

use crate::Ctx;

/// A handler's result: the reply, and whether the master quits once it is sent.
pub struct Answer {
    /// The reply to send (its `id` is set by [`handle`]).
    pub reply: Reply,
    /// `quit` was asked of the master itself.
    pub quit: bool,
}

impl From<Reply> for Answer {
    fn from(reply: Reply) -> Self {
        Answer { reply, quit: false }
    }
}

/// Commands the master answers itself when the request names no node (the `Ok(None)` arms of
/// [`handle`] before routing by watcher name).
pub const MASTER_COMMANDS: &[&str] = &["globaloptions", "dstats", "quit", "reloadconfig", "listen", "ipython"];

/// Handles one decoded request.
pub async fn handle(ctx: &Ctx, mut request: Request) -> Answer {
    let id = request.id.clone();
    if let Err(reason) = check_common(&request) {
        let mut reply = error(Errno::MessageError, &reason);
        reply.set_id(id);
        return reply.into();
    }
    let mut answer: Answer = match request.command.as_str() {
        "register_node" => cluster::register_node(ctx, &request).await.into(),
        "unregister_node" => cluster::unregister_node(ctx, &request).into(),
        "nodes" => cluster::nodes(ctx).into(),
        "nodelist" => cluster::nodelist(ctx).into(),
        "nodeset" => cluster::nodeset(ctx, &request).into(),
        "placements" => crate::placement::commands::placements(ctx).into(),
        "drain" => crate::placement::commands::drain(ctx, &request).await.into(),
        "undrain" => crate::placement::commands::undrain(ctx, &request).await.into(),
        _ => match route::take_node_property(ctx, &mut request) {
            Err(reply) => reply.into(),
            Ok(Some(route::NodeTarget::One(node))) => route::forward(ctx, &node, request).await.into(),
            Ok(Some(route::NodeTarget::Set(nodes))) => changes::gathered(ctx, &nodes, request).await.into(),
            Ok(None) => match request.command.as_str() {
                "globaloptions" => local::globaloptions(ctx, &request).into(),
                "dstats" => local::dstats(ctx).into(),
                "quit" => Answer { reply: Reply::ok(Map::new(), Value::Null), quit: true },
                "reloadconfig" => match crate::lifecycle::reload(ctx) {
                    Ok(report) => ok(report).into(),
                    Err(reason) => error(Errno::MessageError, &reason).into(),
                },
                "listen" => error(Errno::MessageError, "invalid message. use a pub/sub socket").into(),
                "ipython" => error(Errno::MessageError, "ipython runs on a node: name one with properties.node").into(),
                _ => route::route(ctx, request).await.into(),
            },
        },
    };
    answer.reply.set_id(id);
    answer
}

/// Checks the types of the properties the master reads for any command (the others are checked
/// where they are read): a wrong type is refused here rather than forwarded, or worse, read
/// as a default.
fn check_common(request: &Request) -> Result<(), String> {
    // `waiting` chooses the deadline (`waiting_timeout` or `node_timeout`).
    match request.properties.get("waiting") {
        None | Some(Value::Null | Value::Bool(_)) => {}
        Some(other) => {
            return Err(format!("'waiting' must be a boolean, got {}", clusterd_protocol::message::type_name(other)))
        }
    }
    // `name` is routed on (node-qualified names); circusd reads it as a string too.
    request.str_property("name").map(|_| ())
}

/// An error reply (its `id` is set by [`handle`]).
fn error(errno: Errno, reason: &str) -> Reply {
    Reply::error(errno, reason, Value::Null)
}

/// An ok reply with `fields`.
fn ok(fields: Map<String, Value>) -> Reply {
    Reply::ok(fields, Value::Null)
}
