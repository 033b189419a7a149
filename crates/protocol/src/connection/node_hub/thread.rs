//! The loop of the thread "clusterd-nodes": the nodes' ROUTER, its monitor, the wake-up pipe
//! and, once attached, the command endpoint ([`super::front`]), polled together.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc as std_mpsc, Arc};
use std::time::Instant;

use super::calls::{Calls, Finished, Waiter};
use super::front::Front;
use super::nodes::{Nodes, Route};
use super::{id_of, report_lost, routing_id, set_connect_routing_id, Command};
use crate::connection::shortcut::{NodeRoute, Outcome, Unanswered};

pub(super) struct Thread {
    nodes: Nodes,
    monitor: zmq::Socket,
    woken: UnixStream,
    /// [`super::Hub::woken`]: cleared before the inbox is drained.
    pending_wake: Arc<AtomicBool>,
    inbox: std_mpsc::Receiver<Command>,
    /// [`super::Hub::reply`]'s channel.
    replies: std_mpsc::Receiver<Vec<Vec<u8>>>,
    /// The command endpoint, once attached.
    front: Option<Front>,
    /// The requests the thread sent itself (the shortcut's and the tasks' direct calls).
    calls: Calls,
    /// Numbers those requests (shared with [`super::Hub`], which numbers the direct calls).
    seqs: Arc<AtomicU64>,
}

/// Messages taken from a socket before the others get their turn.
const BATCH: usize = 256;

impl Thread {
    pub(super) fn new(
        router: zmq::Socket,
        monitor: zmq::Socket,
        woken: UnixStream,
        pending_wake: Arc<AtomicBool>,
        (inbox, replies): (std_mpsc::Receiver<Command>, std_mpsc::Receiver<Vec<Vec<u8>>>),
        calls: Calls,
        seqs: Arc<AtomicU64>,
    ) -> Self {
        let nodes = Nodes { router, peers: HashMap::new(), endpoints: HashMap::new() };
        Thread { nodes, monitor, woken, pending_wake, inbox, replies, front: None, calls, seqs }
    }

    pub(super) fn run(mut self) {
        // Commands left in the inbox after a turn's share: the next poll does not wait.
        let mut commands_left = false;
        loop {
            let timeout = if commands_left { 0 } else { self.next_wait() };
            let (replies, events, wake, requests) = {
                let mut items = vec![
                    self.nodes.router.as_poll_item(zmq::POLLIN),
                    self.monitor.as_poll_item(zmq::POLLIN),
                    zmq::PollItem::from_fd(self.woken.as_raw_fd(), zmq::POLLIN),
                ];
                if let Some(front) = &self.front {
                    items.push(front.poll_item());
                }
                match zmq::poll(&mut items, timeout) {
                    Ok(_) | Err(zmq::Error::EINTR) => {}
                    // The context is ending: nothing more can be done.
                    Err(_) => return,
                }
                let requests = items.get(3).is_some_and(zmq::PollItem::is_readable);
                (items[0].is_readable(), items[1].is_readable(), items[2].is_readable(), requests)
            };
            if wake {
                // Emptied before the commands are read: a command queued after this still
                // leaves a byte behind, so none waits for the next poll.
                let mut sink = [0u8; 256];
                while matches!((&self.woken).read(&mut sink), Ok(n) if n > 0) {}
                // Cleared before the drain: a command queued from here on writes a new byte.
                self.pending_wake.store(false, Ordering::Release);
            }
            self.send_replies();
            // A share per turn, not the whole inbox: a restore hands over thousands of connects
            // at once, and the clients' requests must not wait behind them.
            commands_left = false;
            for _ in 0..BATCH {
                match self.inbox.try_recv() {
                    Ok(command) => {
                        if !self.obey(command) {
                            return;
                        }
                        commands_left = true;
                    }
                    Err(_) => {
                        commands_left = false;
                        break;
                    }
                }
            }
            if replies {
                self.route_replies();
            }
            if events {
                self.read_events();
            }
            if requests {
                if let Some(front) = &mut self.front {
                    front.read(&mut self.nodes, &mut self.calls, &self.seqs, BATCH);
                }
            }
            let expired = self.calls.expire(Instant::now());
            self.deliver(expired);
        }
    }

    /// Sends every reply the master's loop handed over (dropped when the endpoint is closed).
    fn send_replies(&self) {
        while let Ok(frames) = self.replies.try_recv() {
            if let Some(front) = &self.front {
                front.send_to_client(&frames);
            }
        }
    }

    /// How long the poll may wait, in ms: until the soonest call's deadline, or for ever.
    fn next_wait(&self) -> i64 {
        self.calls.next_deadline().map_or(-1, |deadline| {
            // Rounded up: waking a millisecond early would spin until the deadline.
            let wait = deadline.saturating_duration_since(Instant::now());
            i64::try_from(wait.as_micros().div_ceil(1000)).unwrap_or(i64::MAX)
        })
    }

    /// Runs one command; false on `Stop`.
    fn obey(&mut self, command: Command) -> bool {
        match command {
            Command::Connect { id, endpoint, peer, replies } => {
                let nodes = &mut self.nodes;
                let connected = set_connect_routing_id(&mut nodes.router, &routing_id(id))
                    .and_then(|()| nodes.router.connect(&endpoint));
                match connected {
                    Ok(()) => {
                        nodes.endpoints.entry(endpoint.clone()).or_default().push(id);
                        nodes.peers.insert(id, Route { endpoint, peer, replies });
                    }
                    Err(err) => {
                        peer.refused.store(err.to_raw(), Ordering::Release);
                        report_lost(&peer);
                    }
                }
            }
            Command::Send { id, frame } => self.send(id, &frame),
            Command::Disconnect { id } => self.disconnect(id),
            Command::GiveUp { id } => self.fail_forwarded(id, &Unanswered::GivenUp),
            Command::Call { seq, route, frame, limit, reply } => {
                if self.nodes.try_send(route, &frame) {
                    self.calls.add(seq, route, limit, Waiter::Task(reply));
                } else {
                    let _ = reply.send(Outcome::Unanswered(Unanswered::NotSent));
                }
            }
            Command::AttachFront { socket, endpoint, slow, forwarded } => {
                // One command endpoint per thread: a second one replaces (and closes) the first.
                self.front = Some(Front::new(socket, endpoint, slow));
                self.calls.count_clients_in(forwarded);
            }
            Command::SetShortcut(shortcut) => {
                if let Some(front) = &mut self.front {
                    front.set_shortcut(shortcut);
                }
            }
            Command::Abandon(why) => {
                let abandoned = self.calls.fail(None, true, &why);
                self.deliver(abandoned);
            }
            Command::CloseFront { linger } => {
                // The loop's last replies were handed over before the close.
                self.send_replies();
                if let Some(front) = self.front.take() {
                    front.close(linger);
                }
            }
            Command::Stop => return false,
        }
        true
    }

    fn send(&mut self, id: u64, frame: &[u8]) {
        let nodes = &mut self.nodes;
        let sent = nodes
            .router
            .send(&routing_id(id)[..], zmq::DONTWAIT | zmq::SNDMORE)
            .and_then(|()| nodes.router.send(frame, zmq::DONTWAIT));
        if sent.is_err() {
            // No pipe (EHOSTUNREACH) or a full one (EAGAIN): the request is lost, and the link
            // learns it at once rather than at its deadline.
            if let Some(route) = nodes.peers.get(&id) {
                report_lost(&route.peer);
            }
        }
    }

    fn disconnect(&mut self, id: u64) {
        self.fail_forwarded(id, &Unanswered::Gone);
        let nodes = &mut self.nodes;
        let Some(route) = nodes.peers.remove(&id) else { return };
        let Some(ids) = nodes.endpoints.get_mut(&route.endpoint) else { return };
        ids.retain(|other| *other != id);
        // libzmq disconnects every connection to an endpoint at once: one still used by another
        // NodeSocket (a node re-added before the old link was dropped) stays until the last goes.
        if ids.is_empty() {
            nodes.endpoints.remove(&route.endpoint);
            let _ = nodes.router.disconnect(&route.endpoint);
        }
    }

    fn fail_forwarded(&mut self, id: u64, why: &Unanswered) {
        let failed = self.calls.fail(Some(NodeRoute(id)), false, why);
        self.deliver(failed);
    }

    /// Hands finished calls to their waiters (a client's reply is dropped when the command
    /// endpoint is closed).
    fn deliver(&self, finished: Vec<Finished>) {
        for (waiter, outcome) in finished {
            match waiter {
                Waiter::Client { envelope, answer } => {
                    if let Some(front) = &self.front {
                        front.answer(envelope, answer, outcome);
                    }
                }
                Waiter::Task(reply) => {
                    let _ = reply.send(outcome);
                }
            }
        }
    }

    fn route_replies(&mut self) {
        for _ in 0..BATCH {
            let Ok(frames) = self.nodes.router.recv_multipart(zmq::DONTWAIT) else { return };
            let Some((sender, body)) = frames.split_first() else { continue };
            let Some(id) = id_of(sender) else { continue };
            // Multi-frame replies are joined (circusd sends one frame).
            let body: Cow<'_, [u8]> = if body.len() == 1 { Cow::Borrowed(&body[0]) } else { Cow::Owned(body.concat()) };
            if let Some(finished) = self.calls.answer(NodeRoute(id), &body) {
                self.deliver(vec![finished]);
                continue;
            }
            let Some(route) = self.nodes.peers.get(&id) else { continue };
            // A full queue means the node sends what nobody asked for: dropped, as a full
            // DEALER queue did.
            let _ = route.replies.try_send(body.into_owned());
        }
    }

    fn read_events(&mut self) {
        for _ in 0..BATCH {
            let Ok(frames) = self.monitor.recv_multipart(zmq::DONTWAIT) else { return };
            let [event, endpoint, ..] = frames.as_slice() else { continue };
            let Some(code) = event.get(..2).map(|code| u16::from_le_bytes([code[0], code[1]])) else { continue };
            let endpoint = String::from_utf8_lossy(endpoint);
            for id in self.nodes.ids_on(&endpoint) {
                let Some(route) = self.nodes.peers.get(&id) else { continue };
                if u32::from(code) == zmq_sys::ZMQ_EVENT_HANDSHAKE_SUCCEEDED {
                    route.peer.connected.store(true, Ordering::Release);
                } else {
                    route.peer.connected.store(false, Ordering::Release);
                    report_lost(&route.peer);
                    self.fail_forwarded(id, &Unanswered::ConnectionLost);
                }
            }
        }
    }
}
