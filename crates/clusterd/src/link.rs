//! The master's connection to one node: a task that owns a DEALER to the node's circusd,
//! forwards requests under fresh ids, matches replies back by id, and probes the node every
//! heartbeat to keep its [`Health`] current.
//!
//! Each forwarded request gets an upstream id of our own (`<link prefix>-<counter>`): clients
//! such as circus-web and plugins send no id, and concurrent clients may reuse ids, so the
//! client's id is restored on the reply by the caller. A reply whose id we do not know (it
//! arrived after its caller gave up, or from before a node restart) is dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clusterd_protocol::connection::{ConnectionError, Context, NodeSocket};
use clusterd_protocol::message::{now, Reply, Request};
use serde_json::{Map, Value};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::{interval_at, Instant as TokioInstant, MissedTickBehavior};
use tracing::{debug, info, warn};

/// Requests waiting for the link task; beyond this, callers wait their turn.
const QUEUE: usize = 1024;

/// How long a request waits for a connection to come up before it fails as unreachable. A
/// link that was just created, or a node that is restarting, gets this long to (re)connect;
/// a dead node is reported well within circusctl's 5 s.
const CONNECT_GRACE: Duration = Duration::from_millis(500);

/// How often parked requests retry their send.
const RETRY: Duration = Duration::from_millis(10);

/// Liveness of a node as the master sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeState {
    /// Answered the last probe.
    Alive,
    /// Missed at least one probe (or not probed yet).
    Suspect,
    /// Missed `down_after` probes in a row: requests to it fail at once.
    Down,
}

impl NodeState {
    /// The name used on the wire and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeState::Alive => "alive",
            NodeState::Suspect => "suspect",
            NodeState::Down => "down",
        }
    }
}

/// What the master knows of a node's liveness.
#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    /// Current state.
    pub state: NodeState,
    /// When the node last answered anything (epoch seconds).
    pub last_seen: Option<f64>,
    /// Round-trip time of the last answered probe.
    pub rtt: Option<Duration>,
    /// Probes missed in a row.
    pub missed: u32,
}

/// Why a forwarded request got no reply from the node.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeError {
    /// The node is `down`; the request was not sent.
    Down {
        /// Probes missed in a row.
        missed: u32,
        /// When it last answered.
        last_seen: Option<f64>,
    },
    /// No connection to the node is up.
    Unreachable,
    /// No reply within the deadline.
    Timeout(Duration),
    /// The node was unregistered or replaced while the request was in flight.
    Gone,
}

impl NodeError {
    /// A one-line description naming the node, for error replies.
    pub fn describe(&self, node: &str) -> String {
        match self {
            NodeError::Down { missed, last_seen } => {
                let seen = match last_seen {
                    Some(t) => format!("last seen {:.1}s ago", (now() - t).max(0.0)),
                    None => "never seen".to_string(),
                };
                format!("node {node} is down (missed {missed} probes, {seen})")
            }
            NodeError::Unreachable => format!("node {node} is unreachable (no connection)"),
            NodeError::Timeout(after) => {
                format!("node {node} timed out after {}", humantime::format_duration(*after))
            }
            NodeError::Gone => format!("node {node} was unregistered while the request was in flight"),
        }
    }
}

/// Called on every state change of a node, with its health after the change.
pub type StateHook = Box<dyn Fn(NodeState, &Health) + Send + Sync>;

/// Probe settings.
#[derive(Debug, Clone, Copy)]
pub struct LinkSettings {
    /// Interval between probes.
    pub heartbeat: Duration,
    /// Missed probes after which the node is `down`.
    pub down_after: u32,
}

struct Call {
    request: Request,
    reply: oneshot::Sender<Result<Reply, NodeError>>,
}

/// Handle on a node's link task; dropping it stops the task and closes the socket.
pub struct Link {
    calls: mpsc::Sender<Call>,
    health: Arc<Mutex<Health>>,
    task: JoinHandle<()>,
}

impl Link {
    /// Connects to `endpoint` and starts the link task for node `name`.
    ///
    /// # Errors
    /// libzmq refused the endpoint.
    pub fn spawn(
        ctx: &Context,
        name: &str,
        endpoint: &str,
        settings: LinkSettings,
        on_state: StateHook,
    ) -> Result<Link, ConnectionError> {
        let socket = NodeSocket::connect(ctx, endpoint)?;
        let health = Arc::new(Mutex::new(Health { state: NodeState::Suspect, last_seen: None, rtt: None, missed: 0 }));
        let (calls, rx) = mpsc::channel(QUEUE);
        let task = tokio::spawn(
            Task {
                name: name.to_string(),
                socket,
                health: health.clone(),
                settings,
                pending: HashMap::new(),
                parked: Vec::new(),
                on_state,
                probe: None,
                counter: 0,
            }
            .run(rx),
        );
        Ok(Link { calls, health, task })
    }

    /// The node's current health.
    pub fn health(&self) -> Health {
        self.health.lock().expect("health lock").clone()
    }

    /// Forwards `request` and waits for the node's reply, at most `timeout`.
    ///
    /// # Errors
    /// The node is down, unreachable, too slow, or went away.
    pub async fn call(&self, request: Request, timeout: Duration) -> Result<Reply, NodeError> {
        let health = self.health();
        if health.state == NodeState::Down {
            return Err(NodeError::Down { missed: health.missed, last_seen: health.last_seen });
        }
        let (tx, rx) = oneshot::channel();
        let exchange = async {
            self.calls.send(Call { request, reply: tx }).await.map_err(|_| NodeError::Gone)?;
            rx.await.map_err(|_| NodeError::Gone)?
        };
        tokio::time::timeout(timeout, exchange).await.unwrap_or(Err(NodeError::Timeout(timeout)))
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The link task's state. Only this task touches the socket.
struct Task {
    name: String,
    socket: NodeSocket,
    health: Arc<Mutex<Health>>,
    settings: LinkSettings,
    pending: HashMap<String, oneshot::Sender<Result<Reply, NodeError>>>,
    /// Requests that found no connection, with when they first tried; retried every [`RETRY`]
    /// for up to [`CONNECT_GRACE`].
    parked: Vec<(Call, Instant)>,
    /// Told of every state change.
    on_state: StateHook,
    /// The outstanding probe: its id and when it was sent.
    probe: Option<(String, Instant)>,
    counter: u64,
}

impl Task {
    async fn run(mut self, mut calls: mpsc::Receiver<Call>) {
        // The first probe waits a moment: the connection is still being set up.
        let mut tick = interval_at(TokioInstant::now() + RETRY * 5, self.settings.heartbeat);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                call = calls.recv() => match call {
                    Some(call) => self.forward(call, Instant::now()),
                    None => break,
                },
                _ = tokio::time::sleep(RETRY), if !self.parked.is_empty() => {
                    for (call, since) in std::mem::take(&mut self.parked) {
                        self.forward(call, since);
                    }
                }
                frame = self.socket.recv() => match frame {
                    Ok(bytes) => self.on_reply(&bytes),
                    Err(err) => {
                        warn!(node = %self.name, cause = %err, "receive failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
                _ = tick.tick() => self.on_tick(),
            }
        }
    }

    fn next_id(&mut self) -> String {
        self.counter += 1;
        format!("clusterd-{}", self.counter)
    }

    fn forward(&mut self, call: Call, since: Instant) {
        if call.reply.is_closed() {
            return;
        }
        let id = self.next_id();
        match self.socket.send(&call.request.encode_with_id(&Value::String(id.clone()))) {
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
        let id = self.next_id();
        let probe = Request::new("numwatchers", Map::new());
        match self.socket.send(&probe.encode_with_id(&Value::String(id.clone()))) {
            Ok(()) => self.probe = Some((id, Instant::now())),
            Err(_) => self.missed(),
        }
    }

    fn seen(&mut self, rtt: Option<Duration>) {
        let mut health = self.health.lock().expect("health lock");
        health.last_seen = Some(now());
        health.missed = 0;
        if rtt.is_some() {
            health.rtt = rtt;
        }
        self.transition(&mut health, NodeState::Alive);
    }

    fn missed(&mut self) {
        let mut health = self.health.lock().expect("health lock");
        health.missed = health.missed.saturating_add(1);
        let state = if health.missed >= self.settings.down_after { NodeState::Down } else { NodeState::Suspect };
        self.transition(&mut health, state);
    }

    fn transition(&self, health: &mut Health, to: NodeState) {
        if health.state != to {
            info!(node = %self.name, from = health.state.as_str(), to = to.as_str(), missed = health.missed, "node state changed");
            health.state = to;
            (self.on_state)(to, health);
        }
    }
}
