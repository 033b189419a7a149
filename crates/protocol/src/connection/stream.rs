//! Publish/subscribe sockets of the master's merged streams.
//!
//! * [`StreamReceiver`]: a SUB connected to one node's stats or event stream. libzmq reconnects
//!   by itself (every 100 ms, backing off to 1 s), so a node that restarts comes back without
//!   any action of ours.
//! * [`StreamSender`]: the master's bound PUB. Sends never block: a subscriber whose queue
//!   (`SNDHWM` messages) is full loses messages, as with any Circus PUB, and the master goes on.

use std::collections::VecDeque;

use futures::StreamExt;
use tmq::AsZmqSocket;

use super::{ConnectionError, Context, WIRE_LIMIT};

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
}

impl StreamReceiver {
    /// Connects to `endpoint` and subscribes to `prefix`.
    ///
    /// # Errors
    /// The endpoint is malformed.
    pub fn connect(ctx: &Context, endpoint: &str, prefix: &[u8], rcvhwm: i32) -> Result<Self, ConnectionError> {
        let socket = ctx
            .open(|context| {
                Ok(tmq::subscribe(context)
                    .set_linger(0)
                    .set_rcvhwm(rcvhwm)
                    .set_maxmsgsize(WIRE_LIMIT)
                    .set_reconnect_ivl(100)
                    .set_reconnect_ivl_max(1000)
                    .connect(endpoint)?)
            })
            .and_then(|socket| Ok(socket.subscribe(prefix)?))
            .map_err(|e| ConnectionError::zmq("connect", endpoint, e))?;
        Ok(StreamReceiver { socket, endpoint: endpoint.to_string(), ready: VecDeque::new() })
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
            Some(Ok(multipart)) => publication(multipart.iter().map(|m| &m[..])),
            Some(Err(err)) => return Err(ConnectionError::zmq("recv", &self.endpoint, err)),
            None => return Err(ConnectionError::zmq("recv", &self.endpoint, zmq::Error::ETERM)),
        };
        // Whatever else is waiting now, without blocking; an error (EAGAIN, mostly) ends it,
        // and the next `next()` sees the socket's state again.
        for _ in 0..DRAIN {
            match self.socket.get_socket().recv_multipart(zmq::DONTWAIT) {
                Ok(frames) => self.ready.push_back(publication(frames.iter().map(Vec::as_slice))),
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

/// A publication from its frames: the first is the topic, the others are joined.
fn publication<'a>(mut parts: impl Iterator<Item = &'a [u8]>) -> Publication {
    let topic = parts.next().map(<[u8]>::to_vec).unwrap_or_default();
    let mut frames = 1;
    let mut payload = Vec::new();
    for part in parts {
        payload.extend_from_slice(part);
        frames += 1;
    }
    Publication { topic, payload, frames }
}

/// The master's bound PUB for one merged stream.
pub struct StreamSender {
    socket: zmq::Socket,
    endpoint: String,
}

impl StreamSender {
    /// Binds a PUB on `endpoint`, queueing at most `sndhwm` messages per subscriber.
    ///
    /// # Errors
    /// The endpoint is malformed or in use.
    pub fn bind(ctx: &Context, endpoint: &str, sndhwm: i32) -> Result<Self, ConnectionError> {
        let err = |op| move |e| ConnectionError::zmq(op, endpoint, e);
        let socket = ctx
            .open(|context| Ok(context.socket(zmq::PUB)?))
            .map_err(|e| ConnectionError::zmq("socket", endpoint, e))?;
        socket.set_linger(0).map_err(err("socket"))?;
        socket.set_sndhwm(sndhwm).map_err(err("socket"))?;
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

    /// The endpoint actually bound: with a port of `*`, the one the system picked.
    pub fn bound_endpoint(&self) -> String {
        super::bound_endpoint(&self.socket, &self.endpoint)
    }
}
