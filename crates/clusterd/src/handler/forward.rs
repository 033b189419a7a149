//! Sending one request to one node: the only place a handler calls a node link, under the
//! request's deadline (`waiting_timeout` or `node_timeout`).

use clusterd_protocol::{Errno, Reply, Request};

use super::error;
use crate::link::NodeError;
use crate::registry::Node;
use crate::Ctx;

/// Forwards `request` to `node` and returns its reply, or an errno 5 reply naming the node
/// when it is down, unreachable or too slow.
pub async fn forward(ctx: &Ctx, node: &Node, request: Request) -> Reply {
    match call(ctx, node, request).await {
        Ok(reply) => reply,
        Err(err) => no_answer(node, &err),
    }
}

/// Forwards `request` to `node` under the request's deadline; `Err` when the node gave no
/// answer at all (as opposed to an error reply of its own).
pub async fn call(ctx: &Ctx, node: &Node, request: Request) -> Result<Reply, NodeError> {
    let settings = ctx.settings();
    let timeout = if request.waiting() { settings.waiting_timeout } else { settings.node_timeout };
    node.link.call(request, timeout).await
}

/// The errno 5 reply for a node that gave no answer.
pub fn no_answer(node: &Node, err: &NodeError) -> Reply {
    error(Errno::CommandError, &err.describe(&node.name))
}
