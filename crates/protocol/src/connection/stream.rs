//! Publish/subscribe sockets of the master's merged streams.
//!
//! * [`StreamReceiver`]: a SUB connected to one node's stats or event stream. libzmq reconnects
//!   by itself (every 100 ms, backing off to 1 s), so a node that restarts comes back without
//!   any action of ours.
//! * [`StreamSender`]: the master's bound PUB. Sends never block: a subscriber whose queue
//!   (`SNDHWM` messages) is full loses messages, as with any Circus PUB, and the master goes on.

use futures::StreamExt;

use super::{ConnectionError, Context, WIRE_LIMIT};

/// A SUB socket on one node's stream.
pub struct StreamReceiver {
    socket: tmq::subscribe::Subscribe,
    endpoint: String,
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
        Ok(StreamReceiver { socket, endpoint: endpoint.to_string() })
    }

    /// The next publication.
    ///
    /// # Errors
    /// A libzmq failure on the socket.
    pub async fn recv(&mut self) -> Result<Publication, ConnectionError> {
        match self.socket.next().await {
            Some(Ok(multipart)) => {
                let frames = multipart.len();
                let mut parts = multipart.iter();
                let topic = parts.next().map(|m| m.to_vec()).unwrap_or_default();
                let payload = parts.flat_map(|m| m.iter().copied()).collect();
                Ok(Publication { topic, payload, frames })
            }
            Some(Err(err)) => Err(ConnectionError::zmq("recv", &self.endpoint, err)),
            None => Err(ConnectionError::zmq("recv", &self.endpoint, zmq::Error::ETERM)),
        }
    }
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
