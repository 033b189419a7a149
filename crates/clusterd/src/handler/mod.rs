//! What the master does with each request: the one dispatcher.
//!
//! Every command is declared once in the command table ([`table`]), which says who answers it.
//! Order of decisions:
//! 1. cluster commands (`register_node`, `unregister_node`, `nodes`, `nodelist`, `nodeset`, `logs`:
//!    [`table::Answered::Master`]) are always the master's own;
//! 2. a request with `properties.node` goes to that node, `node` removed, anything else as is
//!    (commands the master does not know included); a node-set expression there sends it to
//!    every selected node and gathers their replies;
//! 3. master-local commands ([`table::Answered::MasterUnlessNode`]: `globaloptions`, `dstats`,
//!    `quit`, `reloadconfig` (the master's own configuration), `listen`, `ipython`);
//! 4. everything else is routed by watcher name ([`route`]): a qualified name to its node,
//!    no name to every node with merged replies ([`fanout`]).
//!
//! Every reply leaves with the client's `id`, whatever built it.

mod changes;
mod cluster;
pub mod direct;
mod fanout;
mod forward;
mod gather;
mod local;
mod partial;
mod route;
pub mod table;

use clusterd_protocol::{Errno, Reply, Request};
use serde_json::{Map, Value};

use crate::Ctx;
use table::{Answered, Own};

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

/// Handles one decoded request.
pub async fn handle(ctx: &Ctx, mut request: Request) -> Answer {
    let id = request.id.clone();
    if let Err(reason) = check_common(&request) {
        let mut reply = error(Errno::MessageError, &reason);
        reply.set_id(id);
        return reply.into();
    }
    let answered = table::find(&request.command).map_or(Answered::Nodes, |row| row.answered);
    let mut answer: Answer = match answered {
        Answered::Master(own) => answer_own(ctx, own, &request).await,
        _ => match route::take_node_property(ctx, &mut request) {
            Err(reply) => reply.into(),
            Ok(Some(route::NodeTarget::One(node))) => forward::forward(ctx, &node, request).await.into(),
            Ok(Some(route::NodeTarget::Set(nodes))) => changes::gathered(ctx, &nodes, request).await.into(),
            Ok(None) => match answered {
                Answered::MasterUnlessNode(own) => answer_own(ctx, own, &request).await,
                _ => route::route(ctx, request).await.into(),
            },
        },
    };
    answer.reply.set_id(id);
    answer
}

/// Runs one of the master's own handlers (exhaustive: a new [`Own`] needs its arm here and its
/// row in the table).
async fn answer_own(ctx: &Ctx, own: Own, request: &Request) -> Answer {
    match own {
        Own::RegisterNode => cluster::register_node(ctx, request).await.into(),
        Own::UnregisterNode => cluster::unregister_node(ctx, request).into(),
        Own::Nodes => cluster::nodes(ctx).into(),
        Own::Nodelist => cluster::nodelist(ctx).into(),
        Own::Nodeset => cluster::nodeset(ctx, request).into(),
        Own::Placements => crate::placement::commands::placements(ctx).into(),
        Own::Drain => crate::placement::commands::drain(ctx, request).await.into(),
        Own::Undrain => crate::placement::commands::undrain(ctx, request).await.into(),
        Own::Logs => crate::logs::history(ctx, request, route::resolve_set).await.into(),
        Own::Globaloptions => local::globaloptions(ctx, request).into(),
        Own::Dstats => local::dstats(ctx).into(),
        Own::Quit => Answer { reply: Reply::ok(Map::new(), Value::Null), quit: true },
        Own::Reloadconfig => match crate::node_life::reload(ctx) {
            Ok(report) => ok(report).into(),
            Err(reason) => error(Errno::MessageError, &reason).into(),
        },
        Own::Listen => error(Errno::MessageError, "invalid message. use a pub/sub socket").into(),
        Own::Ipython => error(Errno::MessageError, "ipython runs on a node: name one with properties.node").into(),
    }
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
