//! The sockets of watcher output (docs/logs.md): one endpoint per node agent, one for the master.
//!
//! * [`LogServer`]: the agent's bound ROUTER on its `logs_endpoint`. It answers requests in the
//!   Circus shape (`history`, `follow`, `unfollow`) and pushes live lines, as `["log", JSON]`,
//!   to each peer that asked to `follow` (a lease the peer renews). One endpoint, one socket:
//!   history and the live feed cannot disagree about where the agent is.
//! * [`LogFollower`]: the master's DEALER to one agent, kept only while someone subscribes.
//! * [`LogHub`]: the master's XPUB on `[cluster] logs_endpoint`, owned by a thread of its own
//!   (tmq has no XPUB). It reports the topic prefixes subscribers hold, so that the master
//!   follows a node only while its topics are wanted, and never blocks a sender: a full queue
//!   drops the line and counts it.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};

use super::{send_now, ConnectionError, Context, WIRE_LIMIT};

/// The first frame of a pushed live line (replies are single frames).
pub const LINE_FRAME: &[u8] = b"log";

/// A request received by a [`LogServer`]: the peer's identity and the request's body.
pub type Incoming = (Vec<u8>, Vec<u8>);

/// A node agent's bound ROUTER (blocking: the agent is a plain process with one loop).
pub struct LogServer {
    socket: zmq::Socket,
    endpoint: String,
    _ctx: zmq::Context,
}

impl LogServer {
    /// Binds a ROUTER on `endpoint`; each peer's queue holds at most `sndhwm` messages.
    ///
    /// # Errors
    /// The endpoint is malformed or in use.
    pub fn bind(endpoint: &str, sndhwm: i32) -> Result<Self, ConnectionError> {
        let err = |op| move |e| ConnectionError::zmq(op, endpoint, e);
        let ctx = zmq::Context::new();
        let socket = ctx.socket(zmq::ROUTER).map_err(err("socket"))?;
        socket.set_linger(0).map_err(err("socket"))?;
        socket.set_sndhwm(sndhwm).map_err(err("socket"))?;
        socket.set_maxmsgsize(1 << 20).map_err(err("socket"))?;
        // A push to a peer that went away must fail, so that its lease ends at once.
        socket.set_router_mandatory(true).map_err(err("socket"))?;
        socket.bind(endpoint).map_err(err("bind"))?;
        Ok(LogServer { socket, endpoint: endpoint.to_string(), _ctx: ctx })
    }

    /// The endpoint actually bound (a port of `*` resolved).
    pub fn bound_endpoint(&self) -> String {
        super::bound_endpoint(&self.socket, &self.endpoint)
    }

    /// Waits at most `timeout` for a request: `(peer identity, body)`; `None` when nothing came
    /// (or a signal interrupted the wait).
    ///
    /// # Errors
    /// A libzmq failure.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Option<Incoming>, ConnectionError> {
        if !super::readable(&self.socket, timeout, &self.endpoint)? {
            return Ok(None);
        }
        match self.socket.recv_multipart(zmq::DONTWAIT) {
            Ok(mut frames) if frames.len() >= 2 => {
                let body = frames.split_off(1).concat();
                Ok(Some((frames.remove(0), body)))
            }
            Ok(_) | Err(zmq::Error::EAGAIN | zmq::Error::EINTR) => Ok(None),
            Err(err) => Err(ConnectionError::zmq("recv", &self.endpoint, err)),
        }
    }

    /// Sends `frames` to `peer` without blocking.
    ///
    /// # Errors
    /// [`ConnectionError::WouldBlock`] (its queue is full), [`ConnectionError::PeerGone`].
    pub fn send(&self, peer: &[u8], frames: &[&[u8]]) -> Result<(), ConnectionError> {
        let mut all = Vec::with_capacity(frames.len() + 1);
        all.push(peer);
        all.extend_from_slice(frames);
        send_now(&self.socket, &all, &self.endpoint)
    }
}

/// The master's DEALER to one agent's [`LogServer`].
pub struct LogFollower {
    socket: tmq::dealer::Dealer,
    endpoint: String,
}

impl LogFollower {
    /// Connects to `endpoint` (libzmq reconnects by itself when the agent restarts).
    ///
    /// # Errors
    /// The endpoint is malformed.
    pub fn connect(ctx: &Context, endpoint: &str) -> Result<Self, ConnectionError> {
        let socket = ctx
            .open(|context| {
                Ok(tmq::dealer(context)
                    .set_linger(0)
                    .set_maxmsgsize(WIRE_LIMIT)
                    .set_rcvhwm(100_000)
                    .connect(endpoint)?)
            })
            .map_err(|e| ConnectionError::zmq("connect", endpoint, e))?;
        Ok(LogFollower { socket, endpoint: endpoint.to_string() })
    }

    /// Sends one request frame without waiting for the connection (it is queued until then).
    ///
    /// # Errors
    /// A libzmq failure.
    pub async fn send(&mut self, frame: &[u8]) -> Result<(), ConnectionError> {
        let message: tmq::Multipart = std::iter::once(tmq::Message::from(frame)).collect();
        self.socket.send(message).await.map_err(|e| ConnectionError::zmq("send", &self.endpoint, e))
    }

    /// The next message, as frames.
    ///
    /// # Errors
    /// A libzmq failure.
    pub async fn recv(&mut self) -> Result<Vec<Vec<u8>>, ConnectionError> {
        match self.socket.next().await {
            Some(Ok(multipart)) => Ok(multipart.iter().map(|m| m.to_vec()).collect()),
            Some(Err(err)) => Err(ConnectionError::zmq("recv", &self.endpoint, err)),
            None => Err(ConnectionError::zmq("recv", &self.endpoint, zmq::Error::ETERM)),
        }
    }
}

/// The master's merged log feed: an XPUB owned by a thread, fed over a bounded queue.
pub struct LogHub {
    queue: SyncSender<(Vec<u8>, Vec<u8>)>,
    subscriptions: tokio::sync::watch::Receiver<BTreeSet<Vec<u8>>>,
    dropped: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    endpoint: String,
}

/// How long the hub's thread waits for a subscription before looking at its queue again.
const HUB_TICK: Duration = Duration::from_millis(5);

impl LogHub {
    /// Binds an XPUB on `endpoint` (each subscriber's queue holds `sndhwm` messages; the hub's
    /// own queue `queue` lines) and starts its thread.
    ///
    /// # Errors
    /// The endpoint is malformed or in use.
    pub fn bind(endpoint: &str, sndhwm: i32, queue: usize) -> Result<Self, ConnectionError> {
        let err = |op| move |e| ConnectionError::zmq(op, endpoint, e);
        let ctx = zmq::Context::new();
        let socket = ctx.socket(zmq::XPUB).map_err(err("socket"))?;
        socket.set_linger(0).map_err(err("socket"))?;
        socket.set_sndhwm(sndhwm).map_err(err("socket"))?;
        socket.bind(endpoint).map_err(err("bind"))?;
        let bound = super::bound_endpoint(&socket, endpoint);
        let (queue, lines) = sync_channel(queue);
        let (wanted, subscriptions) = tokio::sync::watch::channel(BTreeSet::new());
        let dropped = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let worker = HubThread { socket, lines, wanted, dropped: Arc::clone(&dropped), stop: Arc::clone(&stop) };
        std::thread::Builder::new()
            .name("log-hub".into())
            .spawn(move || worker.run(ctx))
            .map_err(|_| ConnectionError::zmq("socket", endpoint, zmq::Error::EMFILE))?;
        Ok(LogHub { queue, subscriptions, dropped, stop, endpoint: bound })
    }

    /// The endpoint actually bound.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The topic prefixes subscribers hold now, changing as they come and go.
    pub fn subscriptions(&self) -> tokio::sync::watch::Receiver<BTreeSet<Vec<u8>>> {
        self.subscriptions.clone()
    }

    /// Publishes one line without waiting; a full queue drops it (counted).
    pub fn publish(&self, topic: Vec<u8>, payload: Vec<u8>) {
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = self.queue.try_send((topic, payload)) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Lines dropped so far: the hub's queue or a subscriber's queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl Drop for LogHub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

struct HubThread {
    socket: zmq::Socket,
    lines: Receiver<(Vec<u8>, Vec<u8>)>,
    wanted: tokio::sync::watch::Sender<BTreeSet<Vec<u8>>>,
    dropped: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl HubThread {
    /// Alternates between subscription messages and queued lines until the hub is dropped.
    fn run(self, _ctx: zmq::Context) {
        let millis = i64::try_from(HUB_TICK.as_millis()).unwrap_or(5);
        while !self.stop.load(Ordering::Relaxed) {
            if let Ok(n) = self.socket.poll(zmq::POLLIN, millis) {
                if n > 0 {
                    self.take_subscriptions();
                }
            }
            loop {
                match self.lines.try_recv() {
                    Ok((topic, payload)) => {
                        if send_now(&self.socket, &[&topic, &payload], "logs").is_err() {
                            self.dropped.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return,
                }
            }
        }
    }

    /// XPUB hands over `\x01topic` (first subscriber of it) and `\x00topic` (last one gone).
    fn take_subscriptions(&self) {
        while let Ok(message) = self.socket.recv_bytes(zmq::DONTWAIT) {
            let Some((&kind, topic)) = message.split_first() else { continue };
            self.wanted.send_modify(|set| {
                if kind == 1 {
                    set.insert(topic.to_vec());
                } else {
                    set.remove(topic);
                }
            });
        }
    }
}
