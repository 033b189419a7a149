//! The requests the command endpoint is handling: framing, decoding, the in-flight table and
//! the counters of what could not be served.
//!
//! Every message is answered: with its handler's reply, or at once with an errno when it is
//! malformed (errno 1 or 3), when [`MAX_IN_FLIGHT`] requests are already being handled, or when
//! the master is shutting down (errno 3). The only messages left unanswered are those with
//! nowhere to send the answer (no frame after the identity, or a client that closed its socket
//! before its reply was ready); they are counted in `dstats` and logged.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use clusterd_protocol::connection::{CommandServer, ConnectionError};
use clusterd_protocol::message::{Reply, Request};
use clusterd_protocol::Errno;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::permits::{Permit, Permits};
use crate::access::{self, Door};
use crate::Ctx;

/// Requests handled at once. Each one holds its message (up to the size limit) and a task, so
/// clients that flood the endpoint could otherwise grow the master without bound; beyond this
/// the master answers errno 3 at once instead of queueing.
pub const MAX_IN_FLIGHT: usize = 2048;

/// Requests of one client (one ZeroMQ identity) handled at once: a client that floods is
/// refused long before the others are.
pub const MAX_IN_FLIGHT_PER_CLIENT: usize = 256;

/// What the command endpoint could not serve, reported by `dstats` under `requests`.
#[derive(Debug, Default)]
pub struct RequestCounters {
    /// Messages answered with errno 1 or 3 because they were not a valid request.
    pub malformed: AtomicU64,
    /// Requests refused with errno 3 because [`MAX_IN_FLIGHT`] were being handled, or
    /// [`MAX_IN_FLIGHT_PER_CLIENT`] of the same client.
    pub busy: AtomicU64,
    /// Requests refused with errno 3 because the master was shutting down.
    pub refused_shutting_down: AtomicU64,
    /// Replies that could not be delivered: no frame to answer, the client gone, or its queue
    /// full.
    pub dropped: AtomicU64,
    /// Requests being handled now, on every endpoint and path ([`Permits`]).
    pub in_flight: AtomicU64,
    /// Requests the shortcut answered since the start (the rest went through the loop).
    pub shortcut: AtomicU64,
}

impl RequestCounters {
    /// The counters as `dstats` reports them.
    pub fn describe(&self) -> Value {
        json!({
            "malformed": self.malformed.load(Ordering::Relaxed),
            "busy": self.busy.load(Ordering::Relaxed),
            "refused_shutting_down": self.refused_shutting_down.load(Ordering::Relaxed),
            "dropped": self.dropped.load(Ordering::Relaxed),
            "in_flight": self.in_flight.load(Ordering::Relaxed),
            "shortcut": self.shortcut.load(Ordering::Relaxed),
        })
    }
}

/// A handler's result on its way back to the loop that owns the socket.
pub struct Done {
    seq: u64,
    /// The reply; none for a cast.
    body: Option<Vec<u8>>,
    /// `quit` was asked of the master.
    pub quit: bool,
}

/// Where the reply to a request in flight goes.
struct Pending {
    /// The identity, and an empty delimiter for REQ clients.
    envelope: Vec<Vec<u8>>,
    /// The client's `id`, for the error sent if the request is abandoned at shutdown.
    id: Value,
    cast: bool,
    /// Counts the request against the limits until it is answered or abandoned.
    _permit: Permit,
}

/// The requests being handled, keyed by a sequence number of ours.
pub struct InFlight {
    ctx: Arc<Ctx>,
    /// The endpoint these requests came in on (the read-only one refuses changes).
    door: Door,
    pending: HashMap<u64, Pending>,
    /// The endpoint's limits, shared with the shortcut on the command endpoint.
    permits: Arc<Permits>,
    next_seq: u64,
    done: mpsc::UnboundedSender<Done>,
}

impl InFlight {
    /// An empty table; handlers report on `done` (unbounded, but never holding more than
    /// [`MAX_IN_FLIGHT`] replies), requests are limited by `permits`.
    pub fn new(ctx: Arc<Ctx>, done: mpsc::UnboundedSender<Done>, door: Door, permits: Arc<Permits>) -> Self {
        InFlight { ctx, door, pending: HashMap::new(), permits, next_seq: 0, done }
    }

    /// No request is being handled.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Requests being handled.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Handles one incoming message: answers it at once, or spawns its handler. While
    /// `accepting` is false (shutting down) valid requests are refused with errno 3.
    pub fn dispatch(&mut self, server: &CommandServer, mut frames: Vec<Vec<u8>>, accepting: bool) {
        let counters = &self.ctx.requests;
        if frames.len() < 2 {
            // ROUTER always gives the identity and one frame at least; this cannot be answered.
            counters.dropped.fetch_add(1, Ordering::Relaxed);
            warn!(frames = frames.len(), "dropped a message with no request frame");
            return;
        }
        let identity = frames.remove(0);
        let (envelope, body) = match frames.len() {
            1 => (vec![identity], frames.remove(0)),
            2 if frames[0].is_empty() => (vec![identity, Vec::new()], frames.remove(1)),
            n => {
                counters.malformed.fetch_add(1, Ordering::Relaxed);
                let reason = format!("message invalid: expected one frame (the JSON request), got {n}");
                debug!(frames = n, "refused a multi-frame message");
                self.send(server, &[identity], &Reply::error(Errno::MessageError, &reason, Value::Null));
                return;
            }
        };
        let request = match Request::decode(&body, self.ctx.settings().max_message_size) {
            Ok(request) => request,
            Err(err) => {
                counters.malformed.fetch_add(1, Ordering::Relaxed);
                debug!(reason = %err.reason, "refused a malformed request");
                self.send(server, &envelope, &err.reply());
                return;
            }
        };
        let admitted = if accepting {
            self.permits.acquire(&envelope[0]).map_err(|refusal| {
                counters.busy.fetch_add(1, Ordering::Relaxed);
                refusal.reason()
            })
        } else {
            counters.refused_shutting_down.fetch_add(1, Ordering::Relaxed);
            Err("master shutting down: request refused")
        };
        match admitted {
            Ok(permit) => self.spawn(envelope, request, permit),
            Err(reason) => {
                debug!(command = request.command.as_str(), reason, "refused a request");
                if !request.cast {
                    self.send(server, &envelope, &Reply::error(Errno::MessageError, reason, request.id));
                }
            }
        }
    }

    fn spawn(&mut self, envelope: Vec<Vec<u8>>, request: Request, permit: Permit) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let cast = request.cast;
        let identity = envelope[0].clone();
        self.pending.insert(seq, Pending { envelope, id: request.id.clone(), cast, _permit: permit });
        let (ctx, done, door) = (self.ctx.clone(), self.done.clone(), self.door);
        tokio::spawn(async move {
            debug!(command = request.command.as_str(), "request");
            let answer = access::handle(&ctx, door, &identity, request).await;
            let body = (!cast).then(|| answer.reply.encode());
            let _ = done.send(Done { seq, body, quit: answer.quit });
        });
    }

    /// Sends a handler's reply to its client.
    pub fn finish(&mut self, server: &CommandServer, done: &Done) {
        let Some(pending) = self.pending.remove(&done.seq) else { return };
        if let Some(body) = &done.body {
            self.send_bytes(server, &pending.envelope, body);
        }
    }

    /// Answers every request still in flight with an errno 3 error (shutdown, grace over).
    pub fn abandon_all(&mut self, server: &CommandServer, reason: &str) {
        for (_, pending) in std::mem::take(&mut self.pending) {
            if !pending.cast {
                self.send(server, &pending.envelope, &Reply::error(Errno::MessageError, reason, pending.id));
            }
        }
    }

    fn send(&self, server: &CommandServer, envelope: &[Vec<u8>], reply: &Reply) {
        self.send_bytes(server, envelope, &reply.encode());
    }

    /// Sends `[envelope..., body]`; a reply that cannot be delivered is counted and logged.
    fn send_bytes(&self, server: &CommandServer, envelope: &[Vec<u8>], body: &[u8]) {
        let mut frames: Vec<&[u8]> = envelope.iter().map(Vec::as_slice).collect();
        frames.push(body);
        if let Err(err) = server.send(&frames) {
            self.ctx.requests.dropped.fetch_add(1, Ordering::Relaxed);
            match err {
                // Routine: a client that gave up and closed its socket, or one that never reads.
                ConnectionError::PeerGone | ConnectionError::WouldBlock => debug!(cause = %err, "reply dropped"),
                _ => warn!(cause = %err, "reply dropped"),
            }
        }
    }
}
