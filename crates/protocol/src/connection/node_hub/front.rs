//! The command endpoint on the nodes' thread: requests the [`Shortcut`] takes are sent to their
//! node at once and wait in [`Calls`]; the others go to the master's loop, whose replies come
//! back as commands.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;

use super::calls::{Calls, Waiter};
use super::nodes::Nodes;
use crate::connection::send_now;
use crate::connection::shortcut::{Outcome, Shortcut};

pub(super) struct Front {
    socket: zmq::Socket,
    endpoint: String,
    /// To the master's loop: what the shortcut does not take.
    slow: mpsc::UnboundedSender<Vec<Vec<u8>>>,
    shortcut: Option<Arc<dyn Shortcut>>,
}

impl Front {
    pub(super) fn new(socket: zmq::Socket, endpoint: String, slow: mpsc::UnboundedSender<Vec<Vec<u8>>>) -> Self {
        Front { socket, endpoint, slow, shortcut: None }
    }

    pub(super) fn set_shortcut(&mut self, shortcut: Arc<dyn Shortcut>) {
        self.shortcut = Some(shortcut);
    }

    pub(super) fn poll_item(&self) -> zmq::PollItem<'_> {
        self.socket.as_poll_item(zmq::POLLIN)
    }

    /// Takes up to `batch` requests from clients: forwards those the shortcut takes (numbered
    /// from `seqs`), hands the others to the master's loop.
    pub(super) fn read(&mut self, nodes: &mut Nodes, calls: &mut Calls, seqs: &AtomicU64, batch: usize) {
        for _ in 0..batch {
            let Ok(frames) = self.socket.recv_multipart(zmq::DONTWAIT) else { return };
            if !self.try_forward(nodes, calls, seqs, &frames) {
                // The loop gone means the master is ending: nobody is left to answer.
                let _ = self.slow.send(frames);
            }
        }
    }

    fn try_forward(&mut self, nodes: &mut Nodes, calls: &mut Calls, seqs: &AtomicU64, frames: &[Vec<u8>]) -> bool {
        let Some(shortcut) = &self.shortcut else { return false };
        // `[identity, request]` from a DEALER, `[identity, "", request]` from a REQ; anything
        // else is the loop's to refuse.
        let (envelope, body) = match frames {
            [identity, body] => (vec![identity.clone()], body),
            [identity, empty, body] if empty.is_empty() => (vec![identity.clone(), Vec::new()], body),
            _ => return false,
        };
        let seq = seqs.fetch_add(1, Ordering::Relaxed);
        let Some(forward) = shortcut.forward(&envelope[0], body, &calls.upstream_id(seq)) else {
            return false;
        };
        if !nodes.try_send(forward.route, &forward.frame) {
            return false;
        }
        let limit = (forward.timeout, Instant::now() + forward.timeout);
        calls.add(seq, forward.route, limit, Waiter::Client { envelope, answer: forward.answer });
        true
    }

    /// Answers a client whose call ended with `outcome`.
    pub(super) fn answer(
        &self,
        envelope: Vec<Vec<u8>>,
        answer: Box<dyn FnOnce(Outcome) -> Vec<u8> + Send>,
        outcome: Outcome,
    ) {
        let mut frames = envelope;
        frames.push(answer(outcome));
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
