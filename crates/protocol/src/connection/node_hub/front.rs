//! The command endpoint on the nodes' thread: requests the [`Shortcut`] takes are forwarded and
//! answered here; the others go to the master's loop, whose replies come back as commands.
//!
//! Each forwarded request gets the upstream id `<prefix><seq>`, the prefix random per master:
//! a node's reply is looked for (a substring search, then a parse of the reply) only while
//! requests are forwarded, and one that is not ours goes on to the node's link.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::thread::Nodes;
use crate::connection::send_now;
use crate::connection::shortcut::{NodeRoute, Outcome, Shortcut, Unanswered};
use crate::message::Reply;

/// A request forwarded by the shortcut, waiting for its node.
struct Forwarded {
    route: NodeRoute,
    /// The client's identity, and an empty delimiter for REQ clients.
    envelope: Vec<Vec<u8>>,
    timeout: Duration,
    deadline: Instant,
    answer: Box<dyn FnOnce(Outcome) -> Vec<u8> + Send>,
}

pub(super) struct Front {
    socket: zmq::Socket,
    endpoint: String,
    /// To the master's loop: what the shortcut does not take.
    slow: mpsc::UnboundedSender<Vec<Vec<u8>>>,
    shortcut: Option<Arc<dyn Shortcut>>,
    prefix: String,
    next_seq: u64,
    pending: HashMap<u64, Forwarded>,
    /// Deadlines of `pending`, soonest first; entries whose request is gone are skipped.
    deadlines: BinaryHeap<Reverse<(Instant, u64)>>,
    /// `pending.len()`, for the master's loop (it waits for these when stopping).
    forwarded: Arc<AtomicUsize>,
}

impl Front {
    pub(super) fn new(
        socket: zmq::Socket,
        endpoint: String,
        slow: mpsc::UnboundedSender<Vec<Vec<u8>>>,
        forwarded: Arc<AtomicUsize>,
    ) -> Self {
        let prefix = format!("clusterd-{}-", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        Front {
            socket,
            endpoint,
            slow,
            shortcut: None,
            prefix,
            next_seq: 0,
            pending: HashMap::new(),
            deadlines: BinaryHeap::new(),
            forwarded,
        }
    }

    pub(super) fn set_shortcut(&mut self, shortcut: Arc<dyn Shortcut>) {
        self.shortcut = Some(shortcut);
    }

    pub(super) fn poll_item(&self) -> zmq::PollItem<'_> {
        self.socket.as_poll_item(zmq::POLLIN)
    }

    /// When the soonest forwarded request times out.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.peek().map(|Reverse((deadline, _))| *deadline)
    }

    /// Takes up to `batch` requests from clients: forwards those the shortcut takes, hands the
    /// others to the master's loop.
    pub(super) fn read(&mut self, nodes: &mut Nodes, batch: usize) {
        for _ in 0..batch {
            let Ok(frames) = self.socket.recv_multipart(zmq::DONTWAIT) else { return };
            if !self.try_forward(nodes, &frames) {
                // The loop gone means the master is ending: nobody is left to answer.
                let _ = self.slow.send(frames);
            }
        }
    }

    fn try_forward(&mut self, nodes: &mut Nodes, frames: &[Vec<u8>]) -> bool {
        let Some(shortcut) = &self.shortcut else { return false };
        // `[identity, request]` from a DEALER, `[identity, "", request]` from a REQ; anything
        // else is the loop's to refuse.
        let (envelope, body) = match frames {
            [identity, body] => (vec![identity.clone()], body),
            [identity, empty, body] if empty.is_empty() => (vec![identity.clone(), Vec::new()], body),
            _ => return false,
        };
        let seq = self.next_seq;
        let Some(forward) = shortcut.forward(&envelope[0], body, &format!("{}{seq}", self.prefix)) else {
            return false;
        };
        if !nodes.try_send(forward.route, &forward.frame) {
            return false;
        }
        self.next_seq += 1;
        let deadline = Instant::now() + forward.timeout;
        self.deadlines.push(Reverse((deadline, seq)));
        let entry =
            Forwarded { route: forward.route, envelope, timeout: forward.timeout, deadline, answer: forward.answer };
        self.pending.insert(seq, entry);
        self.forwarded.store(self.pending.len(), Ordering::Release);
        true
    }

    /// Answers the forwarded request `body` replies to, if it is one; false when the reply is
    /// not ours (it goes to the node's link).
    pub(super) fn answer(&mut self, route: NodeRoute, body: &[u8]) -> bool {
        if self.pending.is_empty() {
            return false;
        }
        let Some(seq) = upstream_seq(body, self.prefix.as_bytes()) else { return false };
        if self.pending.get(&seq).is_none_or(|forwarded| forwarded.route != route) {
            return false;
        }
        // The id found may sit elsewhere in the reply (an echoed argument): the parsed `id` decides.
        let Ok(reply) = Reply::decode(body) else { return false };
        let upstream = format!("{}{seq}", self.prefix);
        if reply.0.get("id").and_then(|id| id.as_str()) != Some(upstream.as_str()) || reply.not_a_reply().is_some() {
            return false;
        }
        self.finish(seq, Outcome::Reply(reply));
        true
    }

    /// Fails the requests whose deadline is past.
    pub(super) fn expire(&mut self, now: Instant) {
        while let Some(Reverse((deadline, seq))) = self.deadlines.peek().copied() {
            if deadline > now {
                return;
            }
            self.deadlines.pop();
            let Some(forwarded) = self.pending.get(&seq) else { continue };
            if forwarded.deadline == deadline {
                let timeout = forwarded.timeout;
                self.finish(seq, Outcome::Unanswered(Unanswered::Timeout(timeout)));
            }
        }
    }

    /// Fails every request forwarded on `route`.
    pub(super) fn fail_route(&mut self, route: NodeRoute, why: &Unanswered) {
        let seqs: Vec<u64> = self.pending.iter().filter(|(_, f)| f.route == route).map(|(seq, _)| *seq).collect();
        for seq in seqs {
            self.finish(seq, Outcome::Unanswered(why.clone()));
        }
    }

    /// Fails every forwarded request.
    pub(super) fn fail_all(&mut self, why: &Unanswered) {
        let seqs: Vec<u64> = self.pending.keys().copied().collect();
        for seq in seqs {
            self.finish(seq, Outcome::Unanswered(why.clone()));
        }
    }

    fn finish(&mut self, seq: u64, outcome: Outcome) {
        let Some(forwarded) = self.pending.remove(&seq) else { return };
        self.forwarded.store(self.pending.len(), Ordering::Release);
        if self.pending.is_empty() {
            self.deadlines.clear();
        }
        let body = (forwarded.answer)(outcome);
        let mut frames = forwarded.envelope;
        frames.push(body);
        self.send_to_client(&frames);
    }

    /// Sends `frames` (identity first) without blocking; a failure is the shortcut's to count.
    pub(super) fn send_to_client(&self, frames: &[Vec<u8>]) {
        let frames: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
        if let Err(err) = send_now(&self.socket, &frames, &self.endpoint) {
            if let Some(shortcut) = &self.shortcut {
                shortcut.undelivered(&err);
            }
        }
    }

    /// Closes the endpoint, giving queued replies `linger` ms (libzmq sends them in the
    /// background; the context's end waits for that).
    pub(super) fn close(self, linger: i32) {
        let _ = self.socket.set_linger(linger);
    }
}

/// The sequence number in the upstream id `<prefix><seq>` found in `body`.
fn upstream_seq(body: &[u8], prefix: &[u8]) -> Option<u64> {
    let at = memchr::memmem::find(body, prefix)? + prefix.len();
    let digits = body[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&body[at..at + digits]).ok()?.parse().ok()
}
