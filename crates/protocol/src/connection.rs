//! Every ZeroMQ socket of the project, through libzmq (the `zmq` crate) and `tmq` for tokio.
//!
//! Nothing else in the workspace imports `zmq` or `tmq`, so the engine can be swapped here.
//! All sockets use `LINGER 0`: a master that stops must not hang on undelivered messages.
//!
//! * [`CommandServer`]: the master's ROUTER; receives `[identity, ...frames]`, replies without
//!   ever blocking (a reply to a peer that went away is dropped, as libzmq does).
//! * [`NodeSocket`]: a DEALER to one circusd. `IMMEDIATE` is set so that a request to a node
//!   with no live connection fails at once instead of being queued and run minutes later,
//!   when the node comes back and the client has long given up; a lost connection is reported
//!   ([`NodeEvent::Disconnected`]) so that requests sent on it fail at once.
//! * [`probe`]: a one-shot request on a DEALER of its own that waits for the connection
//!   (discovery probes endpoints that may hold nothing).
//! * [`Client`]: a blocking DEALER for clusterctl and tests, matching replies by `id` like
//!   Circus's `CircusClient`.
//! * [`stream`]: the master's stats and event streams (SUB from nodes, PUB to clients).
//! * [`logs`]: watcher output: the node agent's ROUTER, the master's DEALER to it and its XPUB.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::StreamExt;
use serde_json::Value;
use tmq::AsZmqSocket;

use crate::message::{Reply, Request};

mod blocking;
pub mod budget;
pub mod logs;
mod node;
pub mod stream;

pub use blocking::{relay, Client, Publisher, Subscriber};
pub use node::{NodeEvent, NodeSocket};

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
}

impl ConnectionError {
    fn zmq(op: &'static str, endpoint: &str, source: impl Into<ZmqErr>) -> Self {
        ConnectionError::Zmq { op, endpoint: endpoint.to_string(), source: source.into().0 }
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
/// raise), and the master holds three per node: one context would stop at about 340 nodes. So
/// sockets are opened in the first context that has room, and a new context is started when
/// all are full (libzmq answers `EMFILE`), but only when the process has the descriptors for it
/// ([`budget::room_for_context`]): `EMFILE` is also the system running out of descriptors. Each context brings its own I/O thread, which also
/// spreads the network work of thousands of nodes.
#[derive(Clone, Default)]
pub struct Context(Arc<Mutex<Vec<zmq::Context>>>);

/// At most this many contexts (about 65,000 sockets): past it, `EMFILE` is a real limit.
const MAX_CONTEXTS: usize = 64;

impl Context {
    /// A new set of contexts (the first one is started with the first socket).
    pub fn new() -> Self {
        Context::default()
    }

    /// Runs `open` (which creates one socket) in the first context with room for it.
    fn open<T>(&self, mut open: impl FnMut(&zmq::Context) -> Result<T, ZmqErr>) -> Result<T, ZmqErr> {
        let mut contexts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
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

    /// How many libzmq contexts are open (each with its I/O thread).
    pub fn contexts(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

/// Hard cap libzmq enforces before we ever see a message: a peer sending more is disconnected.
/// Our own, friendlier limit (an errno reply) sits below it.
const WIRE_LIMIT: i64 = 64 * 1024 * 1024;

/// The master's command endpoint: a bound ROUTER.
pub struct CommandServer {
    socket: tmq::router::Router,
    endpoint: String,
}

impl CommandServer {
    /// Binds a ROUTER on `endpoint`.
    ///
    /// # Errors
    /// The endpoint is malformed or already in use.
    pub fn bind(ctx: &Context, endpoint: &str) -> Result<Self, ConnectionError> {
        let socket = ctx
            .open(|context| Ok(tmq::router(context).set_linger(0).set_maxmsgsize(WIRE_LIMIT).bind(endpoint)?))
            .map_err(|e| ConnectionError::zmq("bind", endpoint, e))?;
        // Without ROUTER_MANDATORY libzmq drops a reply to a vanished client without a word;
        // with it the send fails, and the master can count and log the drop.
        socket.get_socket().set_router_mandatory(true).map_err(|e| ConnectionError::zmq("bind", endpoint, e))?;
        Ok(CommandServer { socket, endpoint: endpoint.to_string() })
    }

    /// Closes the endpoint, giving the replies still queued in libzmq up to `linger` to leave
    /// (the last replies of a stopping master). Closing returns at once; libzmq sends them in
    /// the background, and dropping the last [`Context`] waits for that, at most `linger`.
    pub fn close(self, linger: Duration) {
        let millis = i32::try_from(linger.as_millis()).unwrap_or(i32::MAX);
        let _ = self.socket.get_socket().set_linger(millis);
    }

    /// The next message as frames; the first frame is the peer's identity.
    ///
    /// # Errors
    /// A libzmq failure on the socket.
    pub async fn recv(&mut self) -> Result<Vec<Vec<u8>>, ConnectionError> {
        match self.socket.next().await {
            Some(Ok(multipart)) => Ok(multipart.iter().map(|m| m.to_vec()).collect()),
            Some(Err(err)) => Err(ConnectionError::zmq("recv", &self.endpoint, err)),
            None => Err(ConnectionError::zmq("recv", &self.endpoint, zmq::Error::ETERM)),
        }
    }

    /// Sends `frames` (identity first) without blocking.
    ///
    /// # Errors
    /// [`ConnectionError::WouldBlock`] when the peer's queue is full,
    /// [`ConnectionError::PeerGone`] when the identity is not (or no longer) connected.
    pub fn send(&self, frames: &[&[u8]]) -> Result<(), ConnectionError> {
        send_now(self.socket.get_socket(), frames, &self.endpoint)
    }

    /// The endpoint actually bound: with a port of `*`, the one the system picked.
    pub fn bound_endpoint(&self) -> String {
        bound_endpoint(self.socket.get_socket(), &self.endpoint)
    }
}

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

/// One request on a DEALER of its own, made for it and dropped afterwards: discovery's
/// `globaloptions` probes of endpoints that may hold nothing at all.
///
/// Unlike [`NodeSocket`], `IMMEDIATE` is not set, so the request waits in the socket until the
/// TCP connection and the ZeroMQ handshake are done; `timeout` bounds all of it (connection,
/// handshake, reply). `LINGER 0`: a probe of a closed port leaves nothing behind. Replies whose
/// `id` is not the probe's are skipped, and so is a message that is no reply at all (the request
/// itself, come back over a TCP self-connection: [`Reply::not_a_reply`]).
///
/// # Errors
/// [`ConnectionError::Timeout`] when nothing answered in time (closed port, not a ZeroMQ
/// ROUTER, silent peer); [`ConnectionError::BadReply`] when the answer is not a JSON object;
/// [`ConnectionError::Zmq`] when libzmq refuses the endpoint.
pub async fn probe(
    ctx: &Context,
    endpoint: &str,
    request: &Request,
    timeout: Duration,
) -> Result<Reply, ConnectionError> {
    // A host name is looked up here, bounded by the deadline, and never by libzmq inside
    // `connect` (synchronously, holding the contexts' lock).
    let resolved = match endpoint.parse::<crate::Endpoint>() {
        Ok(parsed) if parsed.needs_lookup() => {
            Some(crate::endpoint::resolve(&parsed, timeout).await.map_err(ConnectionError::Unresolved)?)
        }
        _ => None,
    };
    let endpoint = resolved.as_ref().map_or(endpoint, crate::Endpoint::as_str);
    let mut socket = ctx
        .open(|context| Ok(tmq::dealer(context).set_linger(0).set_maxmsgsize(WIRE_LIMIT).connect(endpoint)?))
        .map_err(|e| ConnectionError::zmq("connect", endpoint, e))?;
    let id = Value::String(uuid::Uuid::new_v4().simple().to_string());
    // Without IMMEDIATE the pipe exists as soon as `connect` returns: the message is queued.
    send_now(socket.get_socket(), &[&request.encode_with_id(&id)], endpoint)?;
    let exchange = async {
        loop {
            let bytes: Vec<u8> = match socket.next().await {
                Some(Ok(multipart)) => multipart.iter().flat_map(|m| m.to_vec()).collect(),
                Some(Err(err)) => return Err(ConnectionError::zmq("recv", endpoint, err)),
                None => return Err(ConnectionError::zmq("recv", endpoint, zmq::Error::ETERM)),
            };
            let reply = Reply::decode(&bytes).map_err(ConnectionError::BadReply)?;
            if reply.0.get("id") == Some(&id) && reply.not_a_reply().is_none() {
                return Ok(reply);
            }
        }
    };
    tokio::time::timeout(timeout, exchange).await.map_err(|_| ConnectionError::Timeout)?
}

#[cfg(test)]
mod tests {
    use serde_json::Map;

    use super::*;

    #[tokio::test]
    async fn probe_returns_the_reply_carrying_its_id() {
        let ctx = Context::new();
        let mut server = CommandServer::bind(&ctx, "tcp://127.0.0.1:*").expect("bind");
        let endpoint = server.socket.get_socket().get_last_endpoint().expect("endpoint").expect("utf-8");
        let answer = async {
            let frames = server.recv().await.expect("request");
            let request = Request::decode(&frames[1], 1 << 20).expect("decodable");
            // A reply with another id (a stale one) is skipped.
            let stale = Reply::ok(Map::new(), Value::String("stale".into())).encode();
            server.send(&[&frames[0], &stale]).expect("send");
            let fields = Map::from_iter([("options".to_string(), Value::from("here"))]);
            server.send(&[&frames[0], &Reply::ok(fields, request.id).encode()]).expect("send");
            request.command
        };
        let request = Request::new("globaloptions", Map::new());
        let (reply, command) = tokio::join!(probe(&ctx, &endpoint, &request, Duration::from_secs(5)), answer);
        assert_eq!(command, "globaloptions");
        assert_eq!(reply.expect("answered").0["options"], "here");
    }

    #[tokio::test]
    async fn sockets_past_one_contexts_cap_open_in_another_context() {
        let ctx = Context::new();
        // 1,100 DEALERs: more than libzmq's 1,023 sockets per context.
        let sockets: Vec<NodeSocket> =
            (0..1100).map(|_| NodeSocket::connect(&ctx, "tcp://127.0.0.1:9").expect("a socket past the cap")).collect();
        assert_eq!(sockets.len(), 1100);
        // Each NodeSocket is a DEALER and its monitor's two PAIRs: 3,300 sockets.
        assert_eq!(ctx.contexts(), 4);
        drop(sockets);
    }

    #[tokio::test]
    async fn probe_of_a_silent_port_times_out() {
        // A plain TCP listener accepts the connection but never speaks ZeroMQ.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let endpoint = format!("tcp://{}", listener.local_addr().expect("address"));
        let request = Request::new("globaloptions", Map::new());
        let started = std::time::Instant::now();
        let result = probe(&Context::new(), &endpoint, &request, Duration::from_millis(300)).await;
        assert!(matches!(result, Err(ConnectionError::Timeout)), "{result:?}");
        assert!(started.elapsed() < Duration::from_secs(3));
    }
}
