//! Sending one request to several nodes at once, each under its own deadline, and sorting out
//! their answers: who answered, who did not, and one error naming every node that failed. Read
//! by the merged replies ([`super::fanout`]) and the per-node reports ([`super::changes`]).

use std::sync::Arc;

use clusterd_protocol::names::{thousands, LISTED_NAMES};
use clusterd_protocol::{Errno, Reply, Request};
use futures::future::join_all;

use super::error;
use super::forward::{call, no_answer};
use super::partial::Missing;
use crate::config::MergedReads;
use crate::link::NodeError;
use crate::registry::Node;
use crate::Ctx;

/// Each node's reply, or why it gave none.
pub type Results = Vec<(Arc<Node>, Result<Reply, NodeError>)>;

/// Sends `request` to every node of `nodes` at once, so one slow node costs only its own
/// deadline.
pub async fn gather(ctx: &Ctx, nodes: &[Arc<Node>], request: &Request) -> Results {
    let calls = nodes.iter().map(|node| async move { (node.clone(), call(ctx, node, request.clone()).await) });
    join_all(calls).await
}

/// Every result as a reply: a node that gave no answer gets the errno 5 reply naming it.
pub fn as_replies(results: Results) -> Vec<(Arc<Node>, Reply)> {
    results
        .into_iter()
        .map(|(node, result)| {
            let reply = result.unwrap_or_else(|err| no_answer(&node, &err));
            (node, reply)
        })
        .collect()
}

/// The nodes that answered (an error reply is an answer) and those that did not.
pub fn split(results: Results) -> (Vec<(Arc<Node>, Reply)>, Vec<Missing>) {
    let mut answered = Vec::new();
    let mut missing = Vec::new();
    for (node, result) in results {
        match result {
            Ok(reply) => answered.push((node, reply)),
            Err(err) => missing.push((node, err)),
        }
    }
    (answered, missing)
}

/// Whether a read over several nodes may leave out nodes that gave no answer: in `partial`
/// mode, when at least one node answered.
pub fn partial_allowed(ctx: &Ctx, results: &Results) -> bool {
    ctx.settings().merged_reads == MergedReads::Partial && results.iter().any(|(_, result)| result.is_ok())
}

/// One error reply for the nodes that failed: each reason prefixed by its node, and the
/// common errno (5 when they differ).
pub fn failures(results: &[(Arc<Node>, Reply)]) -> Option<Reply> {
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
