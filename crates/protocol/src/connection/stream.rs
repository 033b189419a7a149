//! Publish/subscribe sockets of the master's merged streams.
//!
//! * [`StreamReceiver`]: a SUB connected to one node's stats or event stream. libzmq reconnects
//!   by itself (every 100 ms, backing off to 1 s), so a node that restarts comes back without
//!   any action of ours.
//! * [`StreamSender`]: the master's bound XPUB (a PUB to subscribers, which tells the master the
//!   prefixes they hold). Sends never block: a subscriber whose queue (`SNDHWM` messages) is full
//!   loses messages, as with any Circus PUB, and the master goes on.

use std::collections::{BTreeSet, VecDeque};

use futures::StreamExt;
use tmq::AsZmqSocket;

use super::{ConnectionError, Context};

/// The largest frame a stream SUB accepts: libzmq drops the connection of a publisher sending
/// a larger one (and reconnects), so one SUB never holds more than its `RCVHWM` times this.
/// Messages below it but above the caller's own limit are taken and dropped at once, so they
/// can be counted.
pub const STREAM_FRAME_LIMIT: usize = 8 * 1024 * 1024;

/// The `MAXMSGSIZE` of a node stream's SUB: [`STREAM_FRAME_LIMIT`], or `max_message` if larger.
/// Both the tokio SUB ([`StreamReceiver`]) and the forwarding thread's
/// ([`Source`](super::forward::Source)) set it.
pub(super) fn sub_frame_limit(max_message: usize) -> i64 {
    i64::try_from(STREAM_FRAME_LIMIT.max(max_message)).unwrap_or(i64::MAX)
}

/// Messages each node stream SUB of the master queues (`RCVHWM`); the benchmark's baseline relay
/// uses the same (see `RCVHWM` in clusterd's `streams/feed.rs` for why it is small).
pub const NODE_STREAM_QUEUE: i32 = 100;

/// Messages queued for each subscriber of a merged PUB while messages are small (`SNDHWM`; see
/// clusterd's `streams/queue_limit.rs`); the benchmark's baseline relay uses the same.
pub const SUBSCRIBER_QUEUE: i32 = 20_000;

/// Messages taken at once from a SUB that has several waiting (a node publishes a whole stats
/// cycle at once): one pass through tokio and tmq's readiness checks for all of them instead of
/// one each, which is most of the per-message cost (measured: 2x the forwarding rate).
const DRAIN: usize = 64;

/// A SUB socket on one node's stream.
pub struct StreamReceiver {
    socket: tmq::subscribe::Subscribe,
    endpoint: String,
    /// Publications already taken from the socket, handed out before the socket is read again.
    ready: VecDeque<Publication>,
    /// Publications larger than this (all frames) are handed out empty, marked `oversized`.
    max_message: usize,
}

/// One publication: topic, payload, and how many frames it had (Circus always sends 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    /// The first frame.
    pub topic: Vec<u8>,
    /// The second frame (frames after it are joined onto it).
    pub payload: Vec<u8>,
    /// The number of frames received.
    pub frames: usize,
    /// The publication was larger than the receiver's limit: `topic` and `payload` are empty
    /// (nothing of it is kept).
    pub oversized: bool,
}

impl StreamReceiver {
    /// Connects to `endpoint` and subscribes to `prefix`; publications of more than
    /// `max_message` bytes (all frames) are handed out empty and marked `oversized`.
    ///
    /// # Errors
    /// The endpoint is malformed.
    pub fn connect(
        ctx: &Context,
        endpoint: &str,
        prefix: &[u8],
        rcvhwm: i32,
        max_message: usize,
    ) -> Result<Self, ConnectionError> {
        let frame_limit = sub_frame_limit(max_message);
        let socket = ctx
            .open(|context| {
                Ok(tmq::subscribe(context)
                    .set_linger(0)
                    .set_rcvhwm(rcvhwm)
                    .set_maxmsgsize(frame_limit)
                    .set_reconnect_ivl(100)
                    .set_reconnect_ivl_max(1000)
                    .connect(endpoint)?)
            })
            .and_then(|socket| Ok(socket.subscribe(prefix)?))
            .map_err(|e| ConnectionError::zmq("connect", endpoint, e))?;
        Ok(StreamReceiver { socket, endpoint: endpoint.to_string(), ready: VecDeque::new(), max_message })
    }

    /// The next publication. Cancel-safe: a publication taken from the socket is either
    /// returned or kept for the next call.
    ///
    /// # Errors
    /// A libzmq failure on the socket.
    pub async fn recv(&mut self) -> Result<Publication, ConnectionError> {
        if let Some(publication) = self.ready.pop_front() {
            return Ok(publication);
        }
        let first = match self.socket.next().await {
            Some(Ok(multipart)) => publication(&multipart.iter().map(|m| &m[..]).collect::<Vec<_>>(), self.max_message),
            Some(Err(err)) => return Err(ConnectionError::zmq("recv", &self.endpoint, err)),
            None => return Err(ConnectionError::zmq("recv", &self.endpoint, zmq::Error::ETERM)),
        };
        // Whatever else is waiting now, without blocking; an error (EAGAIN, mostly) ends it,
        // and the next `next()` sees the socket's state again.
        for _ in 0..DRAIN {
            match self.socket.get_socket().recv_multipart(zmq::DONTWAIT) {
                Ok(frames) => self.ready.push_back(owned_publication(frames, self.max_message)),
                Err(_) => break,
            }
        }
        Ok(first)
    }
}

impl StreamReceiver {
    /// A publication already taken from the socket by [`StreamReceiver::recv`], if any: lets
    /// the caller handle a batch in one go.
    pub fn take_ready(&mut self) -> Option<Publication> {
        self.ready.pop_front()
    }
}

/// [`publication`] from frames already copied out of libzmq: a Circus-shaped one (two frames)
/// keeps its buffers, no second copy.
fn owned_publication(mut frames: Vec<Vec<u8>>, max_message: usize) -> Publication {
    let size = frames.iter().map(Vec::len).sum::<usize>();
    if frames.len() != 2 || size > max_message {
        return publication(&frames.iter().map(Vec::as_slice).collect::<Vec<_>>(), max_message);
    }
    let payload = frames.pop().unwrap_or_default();
    let topic = frames.pop().unwrap_or_default();
    Publication { topic, payload, frames: 2, oversized: false }
}

/// A publication from its frames: the first is the topic, the others are joined; empty and
/// `oversized` when they hold more than `max_message` bytes in all.
fn publication(parts: &[&[u8]], max_message: usize) -> Publication {
    let (frames, size) = (parts.len(), parts.iter().map(|part| part.len()).sum::<usize>());
    if size > max_message {
        return Publication { topic: Vec::new(), payload: Vec::new(), frames, oversized: true };
    }
    let mut parts = parts.iter().copied();
    let topic = parts.next().map(<[u8]>::to_vec).unwrap_or_default();
    let mut payload = Vec::with_capacity(size - topic.len());
    for part in parts {
        payload.extend_from_slice(part);
    }
    Publication { topic, payload, frames: frames.max(1), oversized: false }
}

/// The master's bound PUB for one merged stream.
pub struct StreamSender {
    socket: zmq::Socket,
    endpoint: String,
}

impl StreamSender {
    /// Binds an XPUB on `endpoint`, queueing at most `sndhwm` messages per subscriber. To
    /// subscribers it is a PUB; to the master it reports the prefixes they hold
    /// ([`StreamSender::take_subscriptions`]).
    ///
    /// # Errors
    /// The endpoint is malformed or in use.
    pub fn bind(ctx: &Context, endpoint: &str, sndhwm: i32) -> Result<Self, ConnectionError> {
        let err = |op| move |e| ConnectionError::zmq(op, endpoint, e);
        let socket = ctx
            .open(|context| Ok(context.socket(zmq::XPUB)?))
            .map_err(|e| ConnectionError::zmq("socket", endpoint, e))?;
        socket.set_linger(0).map_err(err("socket"))?;
        socket.set_sndhwm(sndhwm).map_err(err("socket"))?;
        // Every subscription, not only a prefix's first: a subscriber that subscribes again
        // (after a reconnection of ours) is seen too. Unsubscriptions still come only when a
        // prefix's last holder goes, which is all a set of prefixes needs.
        socket.set_xpub_verbose(true).map_err(err("socket"))?;
        socket.bind(endpoint).map_err(err("bind"))?;
        Ok(StreamSender { socket, endpoint: endpoint.to_string() })
    }

    /// Publishes `[topic, payload]` without blocking.
    ///
    /// # Errors
    /// A libzmq failure (a full subscriber queue is not one: PUB drops for that subscriber).
    pub fn send(&self, topic: &[u8], payload: &[u8]) -> Result<(), ConnectionError> {
        super::send_now(&self.socket, &[topic, payload], &self.endpoint)
    }

    /// Publishes `[topic, payload]` without blocking, handing both buffers to libzmq as they are
    /// (`zmq_msg_init_data`): no copy of the payload on the way out.
    ///
    /// # Errors
    /// As [`StreamSender::send`].
    pub fn send_owned(&self, topic: Vec<u8>, payload: Vec<u8>) -> Result<(), ConnectionError> {
        let send = |frame: Vec<u8>, flags| match self.socket.send(zmq::Message::from(frame), zmq::DONTWAIT | flags) {
            Ok(()) => Ok(()),
            Err(zmq::Error::EAGAIN) => Err(ConnectionError::WouldBlock),
            Err(err) => Err(ConnectionError::zmq("send", &self.endpoint, err)),
        };
        send(topic, zmq::SNDMORE)?;
        send(payload, 0)
    }

    /// Publishes `topic` (copied: topics are short) and `payload` handed to libzmq as it is,
    /// without blocking: the forwarding thread's send (`connection/forward.rs`).
    ///
    /// # Errors
    /// As [`StreamSender::send`].
    pub fn send_built(&self, topic: &[u8], payload: Vec<u8>) -> Result<(), ConnectionError> {
        let sent = self
            .socket
            .send(topic, zmq::DONTWAIT | zmq::SNDMORE)
            .and_then(|()| self.socket.send(zmq::Message::from(payload), zmq::DONTWAIT));
        match sent {
            Ok(()) => Ok(()),
            Err(zmq::Error::EAGAIN) => Err(ConnectionError::WouldBlock),
            Err(err) => Err(ConnectionError::zmq("send", &self.endpoint, err)),
        }
    }

    /// The descriptor libzmq signals when the socket's state changed (`ZMQ_FD`).
    pub(super) fn raw_fd(&self) -> Result<std::os::fd::RawFd, zmq::Error> {
        self.socket.get_fd()
    }

    /// Takes in the subscriptions that came (`\x01prefix`) and went (`\x00prefix`, when its
    /// last holder unsubscribed or disconnected) since the last call, without waiting; true when
    /// `prefixes` changed.
    pub fn take_subscriptions(&self, prefixes: &mut BTreeSet<Vec<u8>>) -> bool {
        let mut changed = false;
        while let Ok(message) = self.socket.recv_bytes(zmq::DONTWAIT) {
            changed |= match message.split_first() {
                Some((1, prefix)) => prefixes.insert(prefix.to_vec()),
                Some((0, prefix)) => prefixes.remove(prefix),
                _ => false,
            };
        }
        changed
    }

    /// Changes how many messages each subscriber may have queued, for the connections already
    /// made too (libzmq 4.3 applies `SNDHWM` to existing pipes): a queue over the new limit
    /// takes nothing more until it drains below it.
    ///
    /// # Errors
    /// A libzmq failure.
    pub fn set_queue_limit(&self, sndhwm: i32) -> Result<(), ConnectionError> {
        self.socket.set_sndhwm(sndhwm).map_err(|e| ConnectionError::zmq("socket", &self.endpoint, e))
    }

    /// The endpoint actually bound: with a port of `*`, the one the system picked.
    pub fn bound_endpoint(&self) -> String {
        super::bound_endpoint(&self.socket, &self.endpoint)
    }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
