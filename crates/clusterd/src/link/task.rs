//! The link task: the only code that touches a node's `NodeSocket` (its connection on the nodes' ROUTER).

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clusterd_protocol::connection::{ConnectionError, NodeCaller, NodeEvent, NodeSocket};
use clusterd_protocol::message::{now, Reply, Request};
use serde_json::{Map, Value};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use super::named::{self, Named};
use super::{Call, Health, LinkEvent, LinkHook, NodeError, NodeState, Tuning, CONNECT_GRACE, RETRY_EVERY};

/// The link task's state. Only this task touches the socket.
pub(super) struct Task {
    pub(super) name: String,
    /// None until a host name is resolved ([`Named`]).
    pub(super) socket: Option<NodeSocket>,
    /// Direct calls on the socket, for [`super::Link::call`] and the shortcut.
    pub(super) caller: Arc<Mutex<Option<NodeCaller>>>,
    pub(super) health: Arc<Mutex<Health>>,
    pub(super) tuning: Arc<Tuning>,
    pub(super) pending: HashMap<String, oneshot::Sender<Result<Reply, NodeError>>>,
    /// Requests that found no connection, with when they first tried; retried every
    /// [`RETRY_EVERY`] for up to [`CONNECT_GRACE`].
    pub(super) parked: Vec<(Call, Instant)>,
    /// Told of every state change and restart.
    pub(super) hook: LinkHook,
    /// The outstanding probe: its id and when it was sent.
    pub(super) probe: Option<(String, Instant)>,
    /// The outstanding `dstats` asked after the node became alive.
    pub(super) pid_probe: Option<String>,
    pub(super) counter: u64,
    /// A message that is no reply was logged at warn level already (a self-connected socket
    /// would otherwise log one every heartbeat).
    pub(super) warned_not_a_reply: bool,
    /// libzmq's refusal of the node's endpoint was logged already.
    pub(super) warned_refused: bool,
    /// The lookup state when the endpoint's host is a name.
    pub(super) named: Option<Named>,
}

impl Task {
    pub(super) async fn run(mut self, mut calls: mpsc::Receiver<Call>) {
        // The first probe waits a moment (the connection is still being set up), plus an
        // offset that spreads the nodes' probes over the interval.
        let mut next_probe = Instant::now() + RETRY_EVERY * 5 + self.stagger();
        loop {
            tokio::select! {
                call = calls.recv() => match call {
                    Some(call) => self.forward(call, Instant::now()),
                    None => break,
                },
                _ = tokio::time::sleep(RETRY_EVERY), if !self.parked.is_empty() => {
                    for (call, since) in std::mem::take(&mut self.parked) {
                        self.forward(call, since);
                    }
                }
                answer = named::answer(&mut self.named) => self.on_lookup(answer),
                frame = recv(&mut self.socket) => match frame {
                    Ok(NodeEvent::Reply(bytes)) => self.on_reply(&bytes),
                    Ok(NodeEvent::Disconnected) => {
                        self.fail_pending(NodeError::ConnectionLost);
                        // The node may have moved: look its name up again.
                        if let Some(named) = &mut self.named {
                            named.start_lookup();
                        }
                    }
                    Err(err) => {
                        warn!(node = %self.name, cause = %err, "receive failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
                _ = tokio::time::sleep_until(next_probe.into()) => {
                    self.on_tick();
                    next_probe = Instant::now() + self.tuning.interval();
                }
            }
        }
    }

    /// A random offset within the probe interval, so that nodes are not all probed at once.
    fn stagger(&self) -> Duration {
        let interval = self.tuning.interval().as_micros().max(1) as u64;
        Duration::from_micros(RandomState::new().hash_one(&self.name) % interval)
    }

    fn next_id(&mut self) -> String {
        self.counter += 1;
        format!("clusterd-{}", self.counter)
    }

    fn forward(&mut self, call: Call, since: Instant) {
        if call.reply.is_closed() {
            return;
        }
        if self.socket.is_none() {
            match self.named.as_ref().and_then(|named| named.failure.clone()) {
                Some(reason) => {
                    let _ = call.reply.send(Err(NodeError::Dns(reason)));
                }
                None if since.elapsed() < CONNECT_GRACE => self.parked.push((call, since)),
                None => {
                    let _ = call.reply.send(Err(NodeError::Unreachable));
                }
            }
            return;
        }
        let id = self.next_id();
        let Some(socket) = &self.socket else { return };
        match socket.send(&call.request.encode_with_id(&Value::String(id.clone()))) {
            Ok(()) if call.request.cast => {
                let _ = call.reply.send(Ok(Reply::ok(Map::new(), Value::Null)));
            }
            Ok(()) => {
                self.pending.insert(id, call.reply);
            }
            Err(ConnectionError::WouldBlock) if since.elapsed() < CONNECT_GRACE => self.parked.push((call, since)),
            Err(err) => {
                debug!(node = %self.name, cause = %err, "send failed");
                let _ = call.reply.send(Err(NodeError::Unreachable));
            }
        }
    }

    fn on_reply(&mut self, bytes: &[u8]) {
        let reply = match Reply::decode(bytes) {
            Ok(reply) => reply,
            Err(err) => {
                warn!(node = %self.name, cause = %err, "dropped a malformed reply");
                return;
            }
        };
        let id = reply.0.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
        if let Some(why) = reply.not_a_reply() {
            // Not an answer: the probe or call it echoes stays outstanding and is missed.
            if std::mem::replace(&mut self.warned_not_a_reply, true) {
                debug!(node = %self.name, id, why, "dropped a message that is not a reply");
            } else {
                warn!(node = %self.name, id, why, "dropped a message that is not a reply");
            }
            return;
        }
        if self.pid_probe.as_deref() == Some(id.as_str()) {
            self.pid_probe = None;
            self.on_pid(&reply);
            return;
        }
        if let Some((probe_id, sent)) = &self.probe {
            if *probe_id == id {
                let rtt = sent.elapsed();
                self.probe = None;
                self.seen(Some(rtt));
                return;
            }
        }
        match self.pending.remove(&id) {
            Some(caller) => {
                self.seen(None);
                let _ = caller.send(Ok(reply));
            }
            None => debug!(node = %self.name, id, "dropped a stale reply"),
        }
    }

    fn on_tick(&mut self) {
        // A probe still outstanding a whole heartbeat later is a miss.
        if self.probe.take().is_some() {
            self.missed();
        }
        self.pending.retain(|_, caller| !caller.is_closed());
        if let Some(named) = &mut self.named {
            if named.check_overdue() {
                warn!(node = %self.name, reason = named.failure.as_deref().unwrap_or_default(), "node endpoint does not resolve");
                self.health.lock().expect("health lock").dns_failure = named.failure.clone();
            }
            if self.socket.is_none() {
                named.start_lookup();
            }
        }
        let id = self.next_id();
        let probe = Request::new("numwatchers", Map::new());
        match self.socket.as_ref().map(|socket| socket.send(&probe.encode_with_id(&Value::String(id.clone())))) {
            Some(Ok(())) => self.probe = Some((id, Instant::now())),
            Some(Err(err @ ConnectionError::Zmq { .. })) => {
                // libzmq refused the connect itself (connects are not waited for): said once.
                if !std::mem::replace(&mut self.warned_refused, true) {
                    warn!(node = %self.name, cause = %err, "cannot connect to the node");
                }
                self.missed();
            }
            _ => self.missed(),
        }
    }

    fn seen(&mut self, rtt: Option<Duration>) {
        let became_alive = {
            let mut health = self.health.lock().expect("health lock");
            health.last_seen = Some(now());
            health.missed = 0;
            if rtt.is_some() {
                health.rtt = rtt;
            }
            self.transition(&mut health, NodeState::Alive)
        };
        if became_alive {
            self.ask_pid();
        }
    }

    fn missed(&mut self) {
        let went_down = {
            let mut health = self.health.lock().expect("health lock");
            health.missed = health.missed.saturating_add(1);
            let state = if health.missed >= self.tuning.down_after() { NodeState::Down } else { NodeState::Suspect };
            self.transition(&mut health, state) && state == NodeState::Down
        };
        // A frozen node keeps its connection open: without this, a `waiting` request would
        // wait for `waiting_timeout` on a node known to be down.
        if went_down {
            self.fail_pending(NodeError::WentDown);
            // The same for the requests the command endpoint's shortcut sent on the socket.
            if let Some(socket) = &self.socket {
                socket.give_up_forwarded();
            }
        }
    }

    /// Fails every request waiting for a reply: it will not come.
    pub(super) fn fail_pending(&mut self, why: NodeError) {
        if !self.pending.is_empty() {
            info!(node = %self.name, requests = self.pending.len(), reason = %why.describe(&self.name), "failing requests in flight");
        }
        for (_, caller) in self.pending.drain() {
            let _ = caller.send(Err(why.clone()));
        }
    }

    /// Moves to `to`; true when that is a change.
    fn transition(&self, health: &mut Health, to: NodeState) -> bool {
        if health.state == to {
            return false;
        }
        info!(node = %self.name, from = health.state.as_str(), to = to.as_str(), missed = health.missed, "node state changed");
        health.state = to;
        health.since = Instant::now();
        (self.hook)(&LinkEvent::State(to), health);
        true
    }

    /// Asks `dstats` for circusd's pid (a node that comes back may be a new circusd).
    fn ask_pid(&mut self) {
        let id = self.next_id();
        let dstats = Request::new("dstats", Map::new());
        let Some(socket) = &self.socket else { return };
        if socket.send(&dstats.encode_with_id(&Value::String(id.clone()))).is_ok() {
            self.pid_probe = Some(id);
        }
    }

    /// Records circusd's pid from a `dstats` reply; a different pid than before is a restart.
    fn on_pid(&mut self, reply: &Reply) {
        let Some(pid) = reply.0.get("info").and_then(|info| info.get("pid")).and_then(Value::as_u64) else {
            debug!(node = %self.name, "dstats gave no pid");
            return;
        };
        let mut health = self.health.lock().expect("health lock");
        let previous = health.circusd_pid.replace(pid);
        if let Some(old_pid) = previous.filter(|old| *old != pid) {
            info!(node = %self.name, old_pid, new_pid = pid, "node restarted");
            (self.hook)(&LinkEvent::Restarted { old_pid, new_pid: pid }, &health);
        }
    }
}

/// The next event of an optional socket; never ready without one.
async fn recv(socket: &mut Option<NodeSocket>) -> Result<NodeEvent, ConnectionError> {
    match socket {
        Some(socket) => socket.recv().await,
        None => std::future::pending().await,
    }
}
