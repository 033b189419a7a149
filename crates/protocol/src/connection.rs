//! Every ZeroMQ socket of the project, through libzmq (the `zmq` crate) and `tmq` for tokio.
//!
//! Nothing else in the workspace imports `zmq` or `tmq`, so the engine can be swapped here.
//! All sockets use `LINGER 0`: a master that stops must not hang on undelivered messages.
//!
//! * [`CommandServer`]: the master's ROUTER; receives `[identity, ...frames]`, replies without
//!   ever blocking (a reply to a peer that went away is dropped, as libzmq does).
//! * [`NodeSocket`]: one circusd's connection on the ROUTER all nodes share, owned by one
//!   thread. A request to a node with no live connection fails at once instead of being queued
//!   and run minutes later, when the node comes back and the client has long given up; a lost
//!   connection is reported ([`NodeEvent::Disconnected`]) so that requests sent on it fail at
//!   once.
//! * [`probe()`]: a one-shot request on a DEALER of its own that waits for the connection
//!   (discovery probes endpoints that may hold nothing).
//! * [`Client`]: a blocking DEALER for clusterctl and tests, matching replies by `id` like
//!   Circus's `CircusClient`.
//! * [`stream`]: the master's stats and event streams (SUB from nodes, PUB to clients).
//! * [`forward`]: the thread that reads every node's stats SUB and publishes on the merged XPUB.
//! * [`logs`]: watcher output: the node agent's ROUTER, the master's DEALER to it and its XPUB.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

mod blocking;
pub mod budget;
mod command_server;
pub mod forward;
pub mod logs;
mod node;
mod node_hub;
#[cfg(test)]
mod node_tests;
mod probe;
mod shortcut;
#[cfg(test)]
mod shortcut_tests;
pub mod stream;

pub use blocking::{hop_relay, relay, Client, Publisher, Subscriber};
pub use command_server::CommandServer;
pub use node::{NodeCaller, NodeEvent, NodeSocket};
pub use probe::probe;
pub use shortcut::{Forward, NodeRoute, Outcome, Shortcut, Unanswered};

/// Failures of the transport, as opposed to error replies.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    /// libzmq refused an operation (bad endpoint, address in use, ...).
    #[error("{op} {endpoint}: {source}")]
    Zmq {
        /// What was being done: `bind`, `connect`, `send`, `recv`.
        op: &'static str,
        /// The endpoint concerned.
        endpoint: String,
        /// libzmq's error.
        source: zmq::Error,
    },
    /// The message could not be queued now (no connected peer, or its queue is full).
    #[error("not connected")]
    WouldBlock,
    /// A reply's addressee is no longer connected to the ROUTER (it closed its socket).
    #[error("the client is gone")]
    PeerGone,
    /// No reply came in time.
    #[error("Timed out.")]
    Timeout,
    /// The reply was not a JSON object.
    #[error("bad reply: {0}")]
    BadReply(String),
    /// The file-descriptor budget has no room for the sockets ([`budget`]); the reason names the
    /// limit and how to raise it.
    #[error("{0}")]
    OutOfDescriptors(String),
    /// The endpoint's host name did not resolve in time (`dns: ...`).
    #[error("{0}")]
    Unresolved(String),
    /// None of several endpoints serving the same thing answered (a worker's agent with several
    /// masters sharing etcd): each endpoint with its failure, in the order they were asked.
    #[error("{}", each_failure(.0))]
    NoneAnswered(Vec<(String, ConnectionError)>),
}

/// `tcp://a:5558: Timed out.; tcp://b:5558: ...`.
fn each_failure(failures: &[(String, ConnectionError)]) -> String {
    let each: Vec<String> = failures.iter().map(|(endpoint, err)| format!("{endpoint}: {err}")).collect();
    each.join("; ")
}

impl ConnectionError {
    fn zmq(op: &'static str, endpoint: &str, source: impl Into<ZmqErr>) -> Self {
        ConnectionError::Zmq { op, endpoint: endpoint.to_string(), source: source.into().0 }
    }
}

/// Waits at most `timeout` for `socket` to have a message: `false` when none came (or a signal
/// interrupted the wait). The blocking receives with a timeout (the client, the log sockets)
/// all start with it.
fn readable(socket: &zmq::Socket, timeout: Duration, endpoint: &str) -> Result<bool, ConnectionError> {
    let millis = timeout.as_millis().try_into().unwrap_or(i64::MAX);
    match socket.poll(zmq::POLLIN, millis) {
        Ok(0) | Err(zmq::Error::EINTR) => Ok(false),
        Ok(_) => Ok(true),
        Err(err) => Err(ConnectionError::zmq("poll", endpoint, err)),
    }
}

/// Adapter so that both `zmq::Error` and `tmq::TmqError` map into [`ConnectionError::Zmq`].
pub(crate) struct ZmqErr(zmq::Error);

impl From<zmq::Error> for ZmqErr {
    fn from(err: zmq::Error) -> Self {
        ZmqErr(err)
    }
}

impl From<tmq::TmqError> for ZmqErr {
    fn from(err: tmq::TmqError) -> Self {
        match err {
            tmq::TmqError::Zmq(err) => ZmqErr(err),
            // Registering the socket with tokio failed (out of descriptors, mostly): keep the
            // system's reason rather than a made-up one.
            tmq::TmqError::Io(err) => ZmqErr(err.raw_os_error().map_or(zmq::Error::EFAULT, zmq::Error::from_raw)),
            _ => ZmqErr(zmq::Error::EFAULT),
        }
    }
}

/// The process's ZeroMQ contexts.
///
/// libzmq caps one context at 1,023 sockets (`ZMQ_MAX_SOCKETS`, which the `zmq` crate cannot
/// raise), and the master holds sockets for its nodes' streams: one context could stop at a few
/// hundred nodes. So sockets are opened in the first context that has room, and a new context is
/// started when all are full (libzmq answers `EMFILE`), but only when the process has the
/// descriptors for it ([`budget::room_for_context`]): `EMFILE` is also the system running out of
/// descriptors. Each context brings its own I/O thread, which also spreads the network work of
/// thousands of nodes. The nodes' command connections all share one ROUTER ([`NodeSocket`]),
/// started with the first of them.
#[derive(Clone, Default)]
pub struct Context(Arc<Contexts>);

#[derive(Default)]
struct Contexts {
    /// Declared first, so dropped first: its thread closes its sockets before the contexts go.
    node_hub: Mutex<Option<Arc<node_hub::Hub>>>,
    contexts: Mutex<Vec<zmq::Context>>,
}

/// At most this many contexts (about 65,000 sockets): past it, `EMFILE` is a real limit.
const MAX_CONTEXTS: usize = 64;

impl Context {
    /// A new set of contexts (the first one is started with the first socket).
    pub fn new() -> Self {
        Context::default()
    }

    /// Runs `open` (which creates one socket) in the first context with room for it.
    fn open<T>(&self, mut open: impl FnMut(&zmq::Context) -> Result<T, ZmqErr>) -> Result<T, ZmqErr> {
        let mut contexts = self.0.contexts.lock().unwrap_or_else(PoisonError::into_inner);
        for context in contexts.iter() {
            match open(context) {
                Err(ZmqErr(zmq::Error::EMFILE)) => continue,
                done => return done,
            }
        }
        // EMFILE from every context means "full" only while descriptors are left: a new context
        // whose I/O thread cannot create its epoll aborts the process inside libzmq.
        if contexts.len() >= MAX_CONTEXTS || !budget::room_for_context() {
            return Err(ZmqErr(zmq::Error::EMFILE));
        }
        let fresh = zmq::Context::new();
        let done = open(&fresh);
        // A context whose first socket failed (out of descriptors, not of room) is not kept:
        // repeated failures must not pile up contexts.
        if done.is_ok() {
            contexts.push(fresh);
        }
        done
    }

    /// How many libzmq contexts are open (each with its I/O thread): the sockets' and the nodes'
    /// thread's own ([`NodeSocket`]).
    pub fn contexts(&self) -> usize {
        let hub = self.0.node_hub.lock().unwrap_or_else(PoisonError::into_inner).is_some();
        self.0.contexts.lock().unwrap_or_else(PoisonError::into_inner).len() + usize::from(hub)
    }

    /// Starts the thread owning the nodes' ROUTER now rather than at the first node's connect:
    /// the master does so before it counts its base descriptors, so that the thread's own
    /// (paid once, not per node) are in the base.
    ///
    /// # Errors
    /// libzmq could not open the ROUTER or its monitor.
    pub fn start_node_links(&self) -> Result<(), ConnectionError> {
        self.node_hub().map(drop).map_err(|e| ConnectionError::zmq("open", "the nodes' ROUTER", e))
    }

    /// The thread owning the nodes' ROUTER, started by the first call.
    fn node_hub(&self) -> Result<Arc<node_hub::Hub>, ZmqErr> {
        let mut hub = self.0.node_hub.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(hub) = hub.as_ref() {
            return Ok(hub.clone());
        }
        let started = Arc::new(node_hub::Hub::start()?);
        *hub = Some(started.clone());
        Ok(started)
    }
}

/// Hard cap libzmq enforces before we ever see a message: a peer sending more is disconnected.
/// Our own, friendlier limit (an errno reply) sits below it.
pub(crate) const WIRE_LIMIT: i64 = 64 * 1024 * 1024;

/// libzmq's `LAST_ENDPOINT`, or `fallback` when it cannot be read.
fn bound_endpoint(socket: &zmq::Socket, fallback: &str) -> String {
    match socket.get_last_endpoint() {
        Ok(Ok(endpoint)) if !endpoint.is_empty() => endpoint,
        _ => fallback.to_string(),
    }
}

pub(crate) fn send_now(socket: &zmq::Socket, frames: &[&[u8]], endpoint: &str) -> Result<(), ConnectionError> {
    for (i, frame) in frames.iter().enumerate() {
        let more = if i + 1 < frames.len() { zmq::SNDMORE } else { 0 };
        match socket.send(*frame, zmq::DONTWAIT | more) {
            Ok(()) => {}
            // libzmq sends multipart messages atomically: EAGAIN can only come on the first frame.
            Err(zmq::Error::EAGAIN) => return Err(ConnectionError::WouldBlock),
            Err(zmq::Error::EHOSTUNREACH) => return Err(ConnectionError::PeerGone),
            Err(err) => return Err(ConnectionError::zmq("send", endpoint, err)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
