//! The requests the nodes' thread sent itself and waits for: the shortcut's (answered to a
//! client of the command endpoint) and the direct calls of the master's tasks
//! ([`NodeCaller`](crate::connection::NodeCaller), answered over a channel).
//!
//! Each has the upstream id `<prefix><seq>`, the prefix random per master: a node's reply is
//! looked for (a substring search, then a parse of the reply) only while calls are pending, and
//! one that is not theirs goes on to the node's link.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::connection::shortcut::{NodeRoute, Outcome, Unanswered};
use crate::message::Reply;

/// Who gets the outcome of a call.
pub(super) enum Waiter {
    /// A client of the command endpoint: `answer` builds its reply.
    Client { envelope: Vec<Vec<u8>>, answer: Box<dyn FnOnce(Outcome) -> Vec<u8> + Send> },
    /// A task of the master.
    Task(oneshot::Sender<Outcome>),
}

struct Call {
    route: NodeRoute,
    timeout: Duration,
    deadline: Instant,
    waiter: Waiter,
}

/// A finished call: its waiter and what became of it.
pub(super) type Finished = (Waiter, Outcome);

pub(super) struct Calls {
    prefix: Arc<str>,
    pending: HashMap<u64, Call>,
    /// Deadlines of `pending`, soonest first; entries whose call is gone are skipped.
    deadlines: BinaryHeap<Reverse<(Instant, u64)>>,
    /// Client calls pending, for the command loop (it waits for these when stopping).
    clients: usize,
    client_count: Option<Arc<AtomicUsize>>,
}

impl Calls {
    pub(super) fn new(prefix: Arc<str>) -> Self {
        Calls { prefix, pending: HashMap::new(), deadlines: BinaryHeap::new(), clients: 0, client_count: None }
    }

    /// Where the number of pending client calls is kept from now on.
    pub(super) fn count_clients_in(&mut self, count: Arc<AtomicUsize>) {
        count.store(self.clients, Ordering::Release);
        self.client_count = Some(count);
    }

    /// The upstream id of call `seq`.
    pub(super) fn upstream_id(&self, seq: u64) -> String {
        format!("{}{seq}", self.prefix)
    }

    /// Waits for the reply to call `seq`, sent on `route`, until `deadline`: `timeout` after
    /// the caller asked (it is the one reported when the deadline passes).
    pub(super) fn add(&mut self, seq: u64, route: NodeRoute, (timeout, deadline): (Duration, Instant), waiter: Waiter) {
        self.deadlines.push(Reverse((deadline, seq)));
        if matches!(waiter, Waiter::Client { .. }) {
            self.set_clients(self.clients + 1);
        }
        self.pending.insert(seq, Call { route, timeout, deadline, waiter });
    }

    /// When the soonest call times out.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.peek().map(|Reverse((deadline, _))| *deadline)
    }

    /// The call `body` from `route` replies to, if it is one; `None` when the reply is not ours
    /// (it goes to the node's link).
    pub(super) fn answer(&mut self, route: NodeRoute, body: &[u8]) -> Option<Finished> {
        if self.pending.is_empty() {
            return None;
        }
        let seq = upstream_seq(body, self.prefix.as_bytes())?;
        if self.pending.get(&seq).is_none_or(|call| call.route != route) {
            return None;
        }
        // The id found may sit elsewhere in the reply (an echoed argument): the parsed `id` decides.
        let reply = Reply::decode(body).ok()?;
        let upstream = self.upstream_id(seq);
        if reply.0.get("id").and_then(|id| id.as_str()) != Some(upstream.as_str()) || reply.not_a_reply().is_some() {
            return None;
        }
        self.finish(seq, Outcome::Reply(reply))
    }

    /// The calls whose deadline is past, failed.
    pub(super) fn expire(&mut self, now: Instant) -> Vec<Finished> {
        let mut finished = Vec::new();
        while let Some(Reverse((deadline, seq))) = self.deadlines.peek().copied() {
            if deadline > now {
                break;
            }
            self.deadlines.pop();
            let Some(call) = self.pending.get(&seq) else { continue };
            if call.deadline == deadline {
                let timeout = call.timeout;
                finished.extend(self.finish(seq, Outcome::Unanswered(Unanswered::Timeout(timeout))));
            }
        }
        finished
    }

    /// Fails the calls sent on `route` (on any route with `None`), only the clients' with
    /// `clients_only`.
    pub(super) fn fail(&mut self, route: Option<NodeRoute>, clients_only: bool, why: &Unanswered) -> Vec<Finished> {
        let seqs: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, call)| route.is_none_or(|route| call.route == route))
            .filter(|(_, call)| !clients_only || matches!(call.waiter, Waiter::Client { .. }))
            .map(|(seq, _)| *seq)
            .collect();
        seqs.into_iter().filter_map(|seq| self.finish(seq, Outcome::Unanswered(why.clone()))).collect()
    }

    fn finish(&mut self, seq: u64, outcome: Outcome) -> Option<Finished> {
        let call = self.pending.remove(&seq)?;
        if matches!(call.waiter, Waiter::Client { .. }) {
            self.set_clients(self.clients - 1);
        }
        if self.pending.is_empty() {
            self.deadlines.clear();
        }
        Some((call.waiter, outcome))
    }

    fn set_clients(&mut self, clients: usize) {
        self.clients = clients;
        if let Some(count) = &self.client_count {
            count.store(clients, Ordering::Release);
        }
    }
}

/// The sequence number in the upstream id `<prefix><seq>` found in `body`.
fn upstream_seq(body: &[u8], prefix: &[u8]) -> Option<u64> {
    let at = memchr::memmem::find(body, prefix)? + prefix.len();
    let digits = body[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&body[at..at + digits]).ok()?.parse().ok()
}
