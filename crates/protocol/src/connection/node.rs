//! The master's DEALER to one node, with a monitor that reports lost connections.

use std::sync::atomic::{AtomicU64, Ordering};

use futures::StreamExt;
use tmq::AsZmqSocket;

use super::{send_now, ConnectionError, Context, WIRE_LIMIT};

/// Numbers the monitors' `inproc://` endpoints, which must be unique within the context.
static MONITORS: AtomicU64 = AtomicU64::new(0);

/// What a node's socket delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeEvent {
    /// A reply frame (multi-frame replies are joined; circusd sends one).
    Reply(Vec<u8>),
    /// The connection to the node closed (circusd stopped, crashed or restarted). Replies to
    /// requests sent on it will never come: ZeroMQ does not resend them on the next connection,
    /// and a new circusd would not know them anyway.
    Disconnected,
}

/// A DEALER connected to one node's command endpoint.
pub struct NodeSocket {
    socket: tmq::dealer::Dealer,
    /// libzmq's monitor of `socket`, reporting `DISCONNECTED`; none when it could not be set up
    /// (the link then learns of a lost node from its probes only).
    monitor: Option<tmq::pair::Pair>,
    endpoint: String,
}

impl NodeSocket {
    /// Connects (in the background: libzmq reconnects by itself) to `endpoint`.
    ///
    /// # Errors
    /// The endpoint is malformed.
    pub fn connect(ctx: &Context, endpoint: &str) -> Result<Self, ConnectionError> {
        let monitor_endpoint = format!("inproc://clusterd-node-monitor-{}", MONITORS.fetch_add(1, Ordering::Relaxed));
        // The monitor's `inproc://` endpoint exists only within its socket's context: both are
        // opened in the same one.
        let (socket, monitor) = ctx
            .open(|context| {
                let socket = tmq::dealer(context)
                    .set_linger(0)
                    .set_immediate(true)
                    .set_maxmsgsize(WIRE_LIMIT)
                    .set_reconnect_ivl(100)
                    .set_reconnect_ivl_max(1000)
                    .monitor(&monitor_endpoint, zmq::SocketEvent::DISCONNECTED as i32)
                    .connect(endpoint)?;
                let monitor = match tmq::pair(context).set_linger(0).connect(&monitor_endpoint) {
                    Ok(monitor) => Some(monitor),
                    // The context is full: try the next one rather than go without a monitor.
                    Err(tmq::TmqError::Zmq(zmq::Error::EMFILE)) => return Err(zmq::Error::EMFILE.into()),
                    Err(_) => None,
                };
                Ok((socket, monitor))
            })
            .map_err(|e| ConnectionError::zmq("connect", endpoint, e))?;
        Ok(NodeSocket { socket, monitor, endpoint: endpoint.to_string() })
    }

    /// Sends one request frame without blocking.
    ///
    /// # Errors
    /// [`ConnectionError::WouldBlock`] when no connection to the node is up.
    pub fn send(&self, frame: &[u8]) -> Result<(), ConnectionError> {
        send_now(self.socket.get_socket(), &[frame], &self.endpoint)
    }

    /// The next reply frame or lost connection. Cancel-safe: nothing is lost when the future is
    /// dropped.
    ///
    /// # Errors
    /// A libzmq failure on the socket.
    pub async fn recv(&mut self) -> Result<NodeEvent, ConnectionError> {
        let NodeSocket { socket, monitor, endpoint } = self;
        let replies = async {
            match socket.next().await {
                Some(Ok(multipart)) => Ok(NodeEvent::Reply(multipart.iter().flat_map(|m| m.to_vec()).collect())),
                Some(Err(err)) => Err(ConnectionError::zmq("recv", endpoint.as_str(), err)),
                None => Err(ConnectionError::zmq("recv", endpoint.as_str(), zmq::Error::ETERM)),
            }
        };
        let losses = async {
            match monitor {
                // Monitor messages are [event (u16) + value (u32), endpoint]; only DISCONNECTED
                // is subscribed, so any message is one.
                Some(monitor) => match monitor.next().await {
                    Some(Ok(_)) => NodeEvent::Disconnected,
                    // A broken monitor only costs the early warning.
                    _ => std::future::pending().await,
                },
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            reply = replies => reply,
            lost = losses => Ok(lost),
        }
    }
}
