//! The blocking sockets of the CLI and the tests: [`Client`] (DEALER), [`Subscriber`] (SUB) and
//! [`Publisher`] (PUB, the tests' stand-in for a node's stream).

use std::time::{Duration, Instant};

use serde_json::Value;

use super::{ConnectionError, WIRE_LIMIT};
use crate::message::{Reply, Request};

/// A blocking command client, as Circus's `CircusClient`: one DEALER with a random identity,
/// one `id` per call, replies with another `id` skipped.
pub struct Client {
    socket: zmq::Socket,
    endpoint: String,
    timeout: Duration,
}

impl Client {
    /// Connects to `endpoint`; `timeout` bounds each call.
    ///
    /// # Errors
    /// The endpoint is malformed.
    pub fn connect(endpoint: &str, timeout: Duration) -> Result<Self, ConnectionError> {
        let ctx = zmq::Context::new();
        let socket = ctx.socket(zmq::DEALER).map_err(|e| ConnectionError::zmq("socket", endpoint, e))?;
        let identity = uuid::Uuid::new_v4().simple().to_string();
        socket.set_identity(identity.as_bytes()).map_err(|e| ConnectionError::zmq("socket", endpoint, e))?;
        socket.set_linger(0).map_err(|e| ConnectionError::zmq("socket", endpoint, e))?;
        socket.connect(endpoint).map_err(|e| ConnectionError::zmq("connect", endpoint, e))?;
        Ok(Client { socket, endpoint: endpoint.to_string(), timeout })
    }

    /// Sends `request` with a fresh id and waits for the reply carrying that id.
    ///
    /// # Errors
    /// [`ConnectionError::Timeout`] when no reply comes within the timeout.
    pub fn call(&self, request: &Request) -> Result<Reply, ConnectionError> {
        self.call_within(request, self.timeout)
    }

    /// [`Client::call`], waiting at most `timeout` instead of the one given at connect.
    ///
    /// # Errors
    /// [`ConnectionError::Timeout`] when no reply comes within `timeout`.
    pub fn call_within(&self, request: &Request, timeout: Duration) -> Result<Reply, ConnectionError> {
        let id = Value::String(uuid::Uuid::new_v4().simple().to_string());
        self.send_raw(&request.encode_with_id(&id))?;
        let deadline = Instant::now() + timeout;
        loop {
            let bytes = self.recv_raw(deadline)?;
            let reply = Reply::decode(&bytes).map_err(ConnectionError::BadReply)?;
            if reply.0.get("id") == Some(&id) {
                return Ok(reply);
            }
        }
    }

    /// The deadline of [`Client::call`], as given at connect.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends raw bytes as one frame (tests use it for malformed input).
    ///
    /// # Errors
    /// A libzmq failure.
    pub fn send_raw(&self, frame: &[u8]) -> Result<(), ConnectionError> {
        self.send_frames(&[frame])
    }

    /// Sends several frames as one message.
    ///
    /// # Errors
    /// A libzmq failure.
    pub fn send_frames(&self, frames: &[&[u8]]) -> Result<(), ConnectionError> {
        for (i, frame) in frames.iter().enumerate() {
            let more = if i + 1 < frames.len() { zmq::SNDMORE } else { 0 };
            self.socket.send(*frame, more).map_err(|e| ConnectionError::zmq("send", &self.endpoint, e))?;
        }
        Ok(())
    }

    /// Receives the next message (frames joined) before `deadline`.
    ///
    /// # Errors
    /// [`ConnectionError::Timeout`] at the deadline.
    pub fn recv_raw(&self, deadline: Instant) -> Result<Vec<u8>, ConnectionError> {
        Ok(self.recv_frames(deadline)?.concat())
    }

    /// Receives the next message as frames before `deadline`.
    ///
    /// # Errors
    /// [`ConnectionError::Timeout`] at the deadline.
    pub fn recv_frames(&self, deadline: Instant) -> Result<Vec<Vec<u8>>, ConnectionError> {
        let left = deadline.saturating_duration_since(Instant::now());
        let ready = self
            .socket
            .poll(zmq::POLLIN, left.as_millis().try_into().unwrap_or(i64::MAX))
            .map_err(|e| ConnectionError::zmq("poll", &self.endpoint, e))?;
        if ready == 0 {
            return Err(ConnectionError::Timeout);
        }
        self.socket.recv_multipart(0).map_err(|e| ConnectionError::zmq("recv", &self.endpoint, e))
    }
}

/// A blocking SUB socket for `clusterctl listen`: connects to a PUB endpoint (circusd's or the
/// master's event stream) and yields `(topic, payload)` pairs, as circusctl's `CircusConsumer`.
pub struct Subscriber {
    socket: zmq::Socket,
    endpoint: String,
}

impl Subscriber {
    /// Connects to `endpoint` and subscribes to each topic prefix (`""` means everything).
    ///
    /// # Errors
    /// The endpoint is malformed.
    pub fn connect(endpoint: &str, topics: &[String]) -> Result<Self, ConnectionError> {
        Subscriber::connect_with_hwm(endpoint, topics, 1000)
    }

    /// Like [`Subscriber::connect`], queueing at most `rcvhwm` messages (0: no limit, so the
    /// publisher never drops for this subscriber; benchmarks count every message).
    ///
    /// # Errors
    /// The endpoint is malformed.
    pub fn connect_with_hwm(endpoint: &str, topics: &[String], rcvhwm: i32) -> Result<Self, ConnectionError> {
        let err = |op| move |e| ConnectionError::zmq(op, endpoint, e);
        let socket = zmq::Context::new().socket(zmq::SUB).map_err(err("socket"))?;
        socket.set_linger(0).map_err(err("socket"))?;
        socket.set_rcvhwm(rcvhwm).map_err(err("socket"))?;
        socket.set_maxmsgsize(WIRE_LIMIT).map_err(err("socket"))?;
        for topic in topics {
            socket.set_subscribe(topic.as_bytes()).map_err(err("subscribe"))?;
        }
        socket.connect(endpoint).map_err(err("connect"))?;
        Ok(Subscriber { socket, endpoint: endpoint.to_string() })
    }

    /// Blocks for the next publication: the first frame is the topic, the other frames are joined
    /// into the payload (Circus always publishes exactly two frames).
    ///
    /// # Errors
    /// A libzmq failure on the socket.
    pub fn recv(&self) -> Result<(Vec<u8>, Vec<u8>), ConnectionError> {
        let mut frames =
            self.socket.recv_multipart(0).map_err(|e| ConnectionError::zmq("recv", &self.endpoint, e))?.into_iter();
        let topic = frames.next().unwrap_or_default();
        Ok((topic, frames.flatten().collect()))
    }

    /// Waits at most `timeout` for the next publication and returns all its frames. `None` means
    /// nothing came in time or a signal interrupted the wait, so the caller can check its flags
    /// (quit requested, receiver gone) between waits.
    ///
    /// # Errors
    /// A libzmq failure on the socket.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Option<Vec<Vec<u8>>>, ConnectionError> {
        if !super::readable(&self.socket, timeout, &self.endpoint)? {
            return Ok(None);
        }
        match self.socket.recv_multipart(zmq::DONTWAIT) {
            Ok(frames) => Ok(Some(frames)),
            Err(zmq::Error::EAGAIN | zmq::Error::EINTR) => Ok(None),
            Err(err) => Err(ConnectionError::zmq("recv", &self.endpoint, err)),
        }
    }
}

/// A bound PUB publishing whatever it is given, byte for byte: the tests' hostile node streams
/// (garbage, oversized messages), which no real circusd would send.
pub struct Publisher {
    socket: zmq::Socket,
    endpoint: String,
}

impl Publisher {
    /// Binds a PUB on `endpoint`, queueing at most `sndhwm` messages per subscriber.
    ///
    /// # Errors
    /// The endpoint is malformed or in use.
    pub fn bind(endpoint: &str, sndhwm: i32) -> Result<Self, ConnectionError> {
        let err = |op| move |e| ConnectionError::zmq(op, endpoint, e);
        let socket = zmq::Context::new().socket(zmq::PUB).map_err(err("socket"))?;
        socket.set_linger(0).map_err(err("socket"))?;
        socket.set_sndhwm(sndhwm).map_err(err("socket"))?;
        socket.bind(endpoint).map_err(err("bind"))?;
        Ok(Publisher { socket, endpoint: endpoint.to_string() })
    }

    /// Publishes one message of `frames` without blocking (a full subscriber queue drops it).
    ///
    /// # Errors
    /// A libzmq failure.
    pub fn send(&self, frames: &[&[u8]]) -> Result<(), ConnectionError> {
        match super::send_now(&self.socket, frames, &self.endpoint) {
            Err(ConnectionError::WouldBlock) => Ok(()),
            other => other,
        }
    }
}

/// A plain libzmq relay, the baseline of the stats benchmark: one SUB connected to every
/// endpoint of `from` (subscribed to `prefix`), one PUB bound on `to`, and `zmq_proxy` between
/// them; no decoding, no rewriting. Runs until the process ends.
///
/// # Errors
/// An endpoint is refused, or the proxy fails.
pub fn relay(from: &[String], prefix: &[u8], to: &str, rcvhwm: i32, sndhwm: i32) -> Result<(), ConnectionError> {
    let ctx = zmq::Context::new();
    let sub = ctx.socket(zmq::SUB).map_err(|e| ConnectionError::zmq("socket", to, e))?;
    sub.set_rcvhwm(rcvhwm).map_err(|e| ConnectionError::zmq("socket", to, e))?;
    for endpoint in from {
        sub.connect(endpoint).map_err(|e| ConnectionError::zmq("connect", endpoint, e))?;
    }
    sub.set_subscribe(prefix).map_err(|e| ConnectionError::zmq("subscribe", to, e))?;
    let publisher = ctx.socket(zmq::PUB).map_err(|e| ConnectionError::zmq("socket", to, e))?;
    publisher.set_sndhwm(sndhwm).map_err(|e| ConnectionError::zmq("socket", to, e))?;
    publisher.bind(to).map_err(|e| ConnectionError::zmq("bind", to, e))?;
    zmq::proxy(&sub, &publisher).map_err(|e| ConnectionError::zmq("proxy", to, e))
}

/// A plain libzmq command hop, the floor of the proxy benchmark: a ROUTER bound on `front` for
/// the clients, a DEALER connected to the node on `back`, and `zmq_proxy` between them. The node
/// receives the client's identity as an extra envelope frame and must send it back (simnode
/// does; circusd 0.19 drops any message that is not exactly `[identity, request]`). Runs until
/// the process ends.
///
/// # Errors
/// An endpoint is refused, or the proxy fails.
pub fn hop_relay(front: &str, back: &str) -> Result<(), ConnectionError> {
    let ctx = zmq::Context::new();
    let router = ctx.socket(zmq::ROUTER).map_err(|e| ConnectionError::zmq("socket", front, e))?;
    router.set_linger(0).map_err(|e| ConnectionError::zmq("socket", front, e))?;
    router.bind(front).map_err(|e| ConnectionError::zmq("bind", front, e))?;
    let dealer = ctx.socket(zmq::DEALER).map_err(|e| ConnectionError::zmq("socket", back, e))?;
    dealer.set_linger(0).map_err(|e| ConnectionError::zmq("socket", back, e))?;
    dealer.connect(back).map_err(|e| ConnectionError::zmq("connect", back, e))?;
    zmq::proxy(&router, &dealer).map_err(|e| ConnectionError::zmq("proxy", front, e))
}

#[cfg(test)]
mod tests {
    use serde_json::Map;

    use super::*;
    use crate::connection::{CommandServer, Context};

    #[tokio::test]
    async fn the_hop_relay_carries_a_request_to_the_node_and_its_reply_back() {
        let mut node = CommandServer::bind(&Context::new(), "tcp://127.0.0.1:*").expect("bind");
        let back = node.bound_endpoint();
        let front = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            format!("tcp://{}", listener.local_addr().expect("address"))
        };
        let hop_front = front.clone();
        // zmq_proxy never returns: the thread ends with the test process.
        std::thread::spawn(move || hop_relay(&hop_front, &back));
        let caller = tokio::task::spawn_blocking(move || {
            let client = Client::connect(&front, Duration::from_secs(10)).expect("client");
            client.call(&Request::new("numwatchers", Map::new()))
        });
        let frames = node.recv().await.expect("request");
        // [the hop's identity, the client's identity, the request]: the node keeps the envelope.
        assert_eq!(frames.len(), 3, "{frames:?}");
        let request = Request::decode(&frames[2], 1 << 20).expect("decodable");
        assert_eq!(request.command, "numwatchers");
        let reply = Reply::ok(Map::new(), request.id).encode();
        node.send(&[&frames[0], &frames[1], &reply]).expect("send");
        let reply = caller.await.expect("joined").expect("the reply, through the hop");
        assert_eq!(reply.status(), Some("ok"));
    }
}
