//! The master's side of the command endpoint's shortcut
//! ([`clusterd_protocol::connection::Shortcut`]): the nodes' thread, which owns the command
//! ROUTER, asks it about every request, and a request for one node that the full path would
//! relay unchanged ([`crate::handler::direct`]) is forwarded from that thread, without a tokio
//! hand-off either way. Its reply is what the full path gives: the same routing, deadlines,
//! error texts, command counts and audit events. Everything else goes to [`super::serve`].
//!
//! What differs: the node's liveness is not refreshed by these replies (its probes do that).
//! The limits are the loop's own permits ([`Permits`]), shared by both paths.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clusterd_protocol::connection::{ConnectionError, Forward, Outcome, Unanswered};
use clusterd_protocol::{Errno, Reply, Request};
use serde_json::Value;
use tracing::{debug, warn};

use super::permits::Permits;
use crate::access::{audit, Door};
use crate::handler::direct;
use crate::link::NodeError;
use crate::Ctx;

/// Decides, on the nodes' thread, which requests are forwarded there.
pub struct Shortcut {
    ctx: Arc<Ctx>,
    /// The command endpoint's limits, shared with its loop.
    permits: Arc<Permits>,
    /// False once the master is stopping: new requests then go to the loop, which refuses them.
    accepting: AtomicBool,
}

impl Shortcut {
    /// A shortcut for the master `ctx`.
    pub fn new(ctx: Arc<Ctx>) -> Arc<Self> {
        let permits = Permits::new(ctx.clone());
        Arc::new(Shortcut { ctx, permits, accepting: AtomicBool::new(true) })
    }

    /// The command endpoint's limits, for its loop.
    pub fn permits(&self) -> Arc<Permits> {
        self.permits.clone()
    }

    /// The master is stopping: no more requests are taken.
    pub fn stop_accepting(&self) {
        self.accepting.store(false, Ordering::Release);
    }
}

impl clusterd_protocol::connection::Shortcut for Shortcut {
    fn forward(&self, client: &[u8], body: &[u8], upstream_id: &str) -> Option<Forward> {
        if !self.accepting.load(Ordering::Acquire) {
            return None;
        }
        let ctx = &self.ctx;
        let settings = ctx.settings();
        let mut request = Request::decode(body, settings.max_message_size).ok()?;
        // Begun before the rewrite: the entry names the node as the client addressed it.
        let audit = audit::Entry::begin(ctx, Door::Command, client, &request);
        let target = direct::one_node(ctx, &mut request)?;
        let route = target.node.link.ready_route()?;
        // Refused: the loop refuses it too, and says why.
        let permit = self.permits.acquire(client).ok()?;
        let timeout = if request.waiting() { settings.waiting_timeout } else { settings.node_timeout };
        let frame = request.encode_with_id(&Value::String(upstream_id.to_string()));
        let ctx = ctx.clone();
        let (id, command) = (request.id, request.command);
        let answer = move |outcome: Outcome| {
            let mut reply = match outcome {
                Outcome::Reply(reply) => target.relay(reply),
                Outcome::Unanswered(Unanswered::Abandoned(reason)) => {
                    Reply::error(Errno::MessageError, &reason, Value::Null)
                }
                Outcome::Unanswered(why) => target.unanswered(&NodeError::from(why)),
            };
            reply.set_id(id);
            ctx.requests.shortcut.fetch_add(1, Ordering::Relaxed);
            ctx.commands.count(&command, &reply);
            if let Some(entry) = audit {
                entry.finish(&reply);
            }
            drop(permit);
            reply.encode()
        };
        Some(Forward { route, frame, timeout, answer: Box::new(answer) })
    }

    fn undelivered(&self, err: &ConnectionError) {
        self.ctx.requests.dropped.fetch_add(1, Ordering::Relaxed);
        match err {
            // Routine: a client that gave up and closed its socket, or one that never reads.
            ConnectionError::PeerGone | ConnectionError::WouldBlock => debug!(cause = %err, "reply dropped"),
            _ => warn!(cause = %err, "reply dropped"),
        }
    }
}
