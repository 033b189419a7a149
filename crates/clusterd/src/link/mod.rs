//! The master's connection to one node: a task that owns the node's connection (a `NodeSocket`),
//! forwards requests under fresh ids, matches replies back by id, and probes the node every
//! heartbeat to keep its [`Health`] current.
//!
//! Each forwarded request gets an upstream id of our own (`<link prefix>-<counter>`): clients
//! such as circus-web and plugins send no id, and concurrent clients may reuse ids, so the
//! client's id is restored on the reply by the caller. A reply whose id we do not know (it
//! arrived after its caller gave up, or from before a node restart) is dropped.

mod named;
mod task;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clusterd_protocol::connection::{ConnectionError, Context, NodeCaller, NodeRoute, NodeSocket, Outcome, Unanswered};
use clusterd_protocol::message::{now, Reply, Request};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use named::Named;
pub use named::LOOKUP_TIMEOUT;
use task::Task;

/// Requests waiting for the link task; beyond this, callers wait their turn.
const QUEUE: usize = 1024;

/// How long a request waits for a connection to come up before it fails as unreachable. A
/// link that was just created, or a node that is restarting, gets this long to (re)connect;
/// a dead node is reported well within circusctl's 5 s.
const CONNECT_GRACE: Duration = Duration::from_millis(500);

/// How often parked requests retry their send.
const RETRY_EVERY: Duration = Duration::from_millis(10);

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
    /// When the current state began.
    pub since: Instant,
    /// circusd's pid, from `dstats`, once known.
    pub circusd_pid: Option<u64>,
    /// Why the endpoint's host name does not resolve (`dns: ...`), while it does not.
    pub dns_failure: Option<String>,
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
    /// The connection closed (circusd stopped, crashed or restarted) after the request was
    /// sent: its reply will never come.
    ConnectionLost,
    /// The node stopped answering probes (frozen, or its host unreachable) and went `down`
    /// while the request was in flight.
    WentDown,
    /// The endpoint's host name does not resolve (`dns: ...`), so there is no connection.
    Dns(String),
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
            NodeError::Dns(reason) => format!("node {node} is unreachable ({reason})"),
            NodeError::Timeout(after) => {
                format!("node {node} timed out after {}", humantime::format_duration(*after))
            }
            NodeError::Gone => format!("node {node} was unregistered while the request was in flight"),
            NodeError::ConnectionLost => {
                format!(
                    "node {node} closed the connection while the request was in flight (circusd stopped or crashed)"
                )
            }
            NodeError::WentDown => {
                format!("node {node} stopped answering and went down while the request was in flight")
            }
        }
    }
}

impl From<Unanswered> for NodeError {
    /// The link's name for what became of a request the nodes' thread sent.
    fn from(why: Unanswered) -> Self {
        match why {
            Unanswered::Timeout(after) => NodeError::Timeout(after),
            Unanswered::ConnectionLost => NodeError::ConnectionLost,
            Unanswered::NotSent => NodeError::Unreachable,
            Unanswered::Gone | Unanswered::Abandoned(_) => NodeError::Gone,
            Unanswered::GivenUp => NodeError::WentDown,
        }
    }
}

/// What a link reports about its node.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkEvent {
    /// The node changed state.
    State(NodeState),
    /// The node answered with a new circusd pid: it restarted.
    Restarted {
        /// The pid known before.
        old_pid: u64,
        /// The new pid.
        new_pid: u64,
    },
}

/// Called on every [`LinkEvent`], with the node's health after it.
pub type LinkHook = Box<dyn Fn(&LinkEvent, &Health) + Send + Sync>;

/// Probe settings shared by every link, changed in place on reload and as nodes come and go.
#[derive(Debug)]
pub struct Tuning {
    /// Interval between two probes of one node, in microseconds.
    probe_interval_us: AtomicU64,
    /// Missed probes after which a node is `down`.
    down_after: AtomicU32,
}

impl Tuning {
    /// Probes every `heartbeat`; `down_after` misses make a node `down`.
    pub fn new(heartbeat: Duration, down_after: u32) -> Self {
        let tuning = Tuning { probe_interval_us: AtomicU64::new(0), down_after: AtomicU32::new(down_after) };
        tuning.set_interval(heartbeat);
        tuning
    }

    /// Sets the probe interval: `heartbeat`, or longer when `nodes` probes per heartbeat would
    /// exceed `max_per_sec`.
    pub fn retune(&self, heartbeat: Duration, down_after: u32, nodes: usize, max_per_sec: u32) {
        let spread = Duration::from_secs_f64(nodes as f64 / f64::from(max_per_sec.max(1)));
        self.set_interval(heartbeat.max(spread));
        self.down_after.store(down_after.max(1), Ordering::Relaxed);
    }

    fn set_interval(&self, interval: Duration) {
        let micros = u64::try_from(interval.as_micros()).unwrap_or(u64::MAX).max(1000);
        self.probe_interval_us.store(micros, Ordering::Relaxed);
    }

    /// The current probe interval.
    pub fn interval(&self) -> Duration {
        Duration::from_micros(self.probe_interval_us.load(Ordering::Relaxed))
    }

    /// The current `down_after`.
    pub fn down_after(&self) -> u32 {
        self.down_after.load(Ordering::Relaxed)
    }
}

/// A request for the link task and where its reply goes.
struct Call {
    request: Request,
    reply: oneshot::Sender<Result<Reply, NodeError>>,
}

/// Handle on a node's link task; dropping it stops the task and closes the socket.
pub struct Link {
    calls: mpsc::Sender<Call>,
    health: Arc<Mutex<Health>>,
    /// Direct calls on the node's connection, once there is one (set by the task).
    caller: Arc<Mutex<Option<NodeCaller>>>,
    task: JoinHandle<()>,
}

impl Link {
    /// Connects to `endpoint` and starts the link task for node `name`. An endpoint with a host
    /// name is looked up by the task and connected to by address ([`named`]).
    ///
    /// # Errors
    /// libzmq refused the endpoint.
    pub fn spawn(
        ctx: &Context,
        name: &str,
        endpoint: &str,
        tuning: Arc<Tuning>,
        hook: LinkHook,
    ) -> Result<Link, ConnectionError> {
        let named = Named::new(ctx, endpoint);
        let socket = if named.is_some() { None } else { Some(NodeSocket::connect(ctx, endpoint)?) };
        let health = Arc::new(Mutex::new(Health {
            state: NodeState::Suspect,
            last_seen: None,
            rtt: None,
            missed: 0,
            since: Instant::now(),
            circusd_pid: None,
            dns_failure: None,
        }));
        let caller = Arc::new(Mutex::new(socket.as_ref().map(NodeSocket::caller)));
        let (calls, rx) = mpsc::channel(QUEUE);
        let task = tokio::spawn(
            Task {
                name: name.to_string(),
                socket,
                caller: caller.clone(),
                health: health.clone(),
                tuning,
                pending: HashMap::new(),
                parked: Vec::new(),
                hook,
                probe: None,
                pid_probe: None,
                counter: 0,
                warned_not_a_reply: false,
                warned_refused: false,
                named,
            }
            .run(rx),
        );
        Ok(Link { calls, health, caller, task })
    }

    /// The node's current health.
    pub fn health(&self) -> Health {
        self.health.lock().expect("health lock").clone()
    }

    /// The connection a request may be sent on without the link task (the command endpoint's
    /// shortcut): none when [`Link::call`] would fail at once (the node is down, its name does
    /// not resolve) or there is no connection yet.
    pub fn ready_route(&self) -> Option<NodeRoute> {
        self.ready_caller().map(|caller| caller.route())
    }

    fn ready_caller(&self) -> Option<NodeCaller> {
        {
            let health = self.health.lock().expect("health lock");
            if health.state == NodeState::Down || (health.dns_failure.is_some() && health.state != NodeState::Alive) {
                return None;
            }
        }
        self.caller.lock().expect("caller lock").clone()
    }

    /// Forwards `request` and waits for the node's reply, at most `timeout`.
    ///
    /// # Errors
    /// The node is down, unreachable, too slow, or went away.
    pub async fn call(&self, request: Request, timeout: Duration) -> Result<Reply, NodeError> {
        let health = self.health();
        if let Some(reason) = health.dns_failure.filter(|_| health.state != NodeState::Alive) {
            return Err(NodeError::Dns(reason));
        }
        if health.state == NodeState::Down {
            return Err(NodeError::Down { missed: health.missed, last_seen: health.last_seen });
        }
        // Straight through the nodes' thread when the connection is up (the reply comes back
        // without the link task); otherwise the link task parks it until the connection is.
        // The thread keeps the deadline (from now) and always answers, or drops the call when it
        // ends (`Gone`): no timer of tokio's per call.
        if let Some(caller) = self.ready_caller().filter(|_| !request.cast) {
            let encode = |id: &str| request.encode_with_id(&serde_json::Value::String(id.to_string()));
            match caller.call(encode, timeout).await {
                Outcome::Reply(reply) => return Ok(reply),
                Outcome::Unanswered(Unanswered::NotSent) => {}
                Outcome::Unanswered(why) => return Err(why.into()),
            }
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
