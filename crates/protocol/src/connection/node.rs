//! The master's link to one node: a connection of the one ROUTER every node shares.
//!
//! Each node used to cost a DEALER, libzmq's monitor socket and ours (four descriptors, three
//! socket objects). Now one ROUTER, owned by one thread ([`node_hub`](super::node_hub)),
//! connects out to every node, each connection named by a routing id of its own
//! (`ZMQ_CONNECT_ROUTING_ID`); a node costs its TCP connection. circusd sees what it saw from
//! a DEALER: `[our identity, request]`.
//!
//! The routing id is unique per [`NodeSocket`], never the node's name: a node removed and added
//! again must not be mistaken for a connection libzmq has not torn down yet.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, Notify};

use super::node_hub::{Command, Hub, Peer};
use super::shortcut::{NodeRoute, Outcome, Unanswered};
use super::{ConnectionError, Context};
use crate::endpoint::Endpoint;

/// Numbers the connections; their routing ids are made from it.
static CONNECTIONS: AtomicU64 = AtomicU64::new(0);

/// Replies held for a link that has not read them; past this a node sends what nobody asked
/// for, and the rest is dropped.
const REPLY_QUEUE: usize = 1024;

/// What a node's socket delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeEvent {
    /// A reply frame (multi-frame replies are joined; circusd sends one).
    Reply(Vec<u8>),
    /// The connection to the node closed (circusd stopped, crashed or restarted), or a request
    /// could not be handed to it. Replies to requests sent on it will never come: ZeroMQ does
    /// not resend them on the next connection, and a new circusd would not know them anyway.
    Disconnected,
}

/// One node's connection on the shared ROUTER. Dropping it disconnects.
pub struct NodeSocket {
    id: u64,
    hub: Arc<Hub>,
    peer: Arc<Peer>,
    replies: mpsc::Receiver<Vec<u8>>,
    endpoint: String,
}

impl NodeSocket {
    /// Connects (in the background: libzmq reconnects by itself) to `endpoint`, without waiting
    /// for the nodes' thread: a restore of thousands of nodes would wait for it once per node.
    ///
    /// # Errors
    /// The endpoint is malformed (checked here, as [`Endpoint`] checks it: libzmq's `EINVAL`),
    /// or the shared socket could not be opened. What libzmq alone would refuse is reported by
    /// `send`.
    pub fn connect(ctx: &Context, endpoint: &str) -> Result<Self, ConnectionError> {
        if endpoint.parse::<Endpoint>().is_err() {
            return Err(ConnectionError::zmq("connect", endpoint, zmq::Error::EINVAL));
        }
        let hub = ctx.node_hub().map_err(|e| ConnectionError::zmq("connect", endpoint, e))?;
        let id = CONNECTIONS.fetch_add(1, Ordering::Relaxed);
        let peer = Arc::new(Peer {
            connected: AtomicBool::new(false),
            lost: AtomicBool::new(false),
            notify: Notify::new(),
            refused: AtomicI32::new(0),
        });
        let (replies_tx, replies) = mpsc::channel(REPLY_QUEUE);
        let command = Command::Connect { id, endpoint: endpoint.to_string(), peer: peer.clone(), replies: replies_tx };
        if !hub.tell(command) {
            return Err(ConnectionError::zmq("connect", endpoint, zmq::Error::ETERM));
        }
        Ok(NodeSocket { id, hub, peer, replies, endpoint: endpoint.to_string() })
    }

    /// libzmq's refusal of the connect, if it refused.
    fn refused(&self) -> Option<ConnectionError> {
        match self.peer.refused.load(Ordering::Acquire) {
            0 => None,
            errno => Some(ConnectionError::zmq("connect", &self.endpoint, zmq::Error::from_raw(errno))),
        }
    }

    /// Sends one request frame without blocking.
    ///
    /// # Errors
    /// [`ConnectionError::WouldBlock`] when no connection to the node is up (the handshake is
    /// not done, or the connection dropped and has not come back); libzmq's refusal of the
    /// connect.
    pub fn send(&self, frame: &[u8]) -> Result<(), ConnectionError> {
        if let Some(refused) = self.refused() {
            return Err(refused);
        }
        if !self.peer.connected.load(Ordering::Acquire) {
            return Err(ConnectionError::WouldBlock);
        }
        if self.hub.tell(Command::Send { id: self.id, frame: frame.to_vec() }) {
            Ok(())
        } else {
            Err(ConnectionError::zmq("send", &self.endpoint, zmq::Error::ETERM))
        }
    }

    /// The ZeroMQ handshake with the node is done and the connection has not dropped since.
    pub fn is_up(&self) -> bool {
        self.peer.connected.load(Ordering::Acquire)
    }

    /// This connection, as the command endpoint's [`Shortcut`](super::Shortcut) names it.
    pub fn route(&self) -> NodeRoute {
        NodeRoute(self.id)
    }

    /// A handle that sends requests on this connection without the socket's owner: the nodes'
    /// thread matches the reply and hands it straight to the caller.
    pub fn caller(&self) -> NodeCaller {
        NodeCaller { hub: self.hub.clone(), route: self.route() }
    }

    /// Fails the requests the shortcut forwarded on this connection and still waits for
    /// ([`Unanswered::GivenUp`]): the node stopped answering.
    pub fn give_up_forwarded(&self) {
        self.hub.tell(Command::GiveUp { id: self.id });
    }

    /// The next reply frame or lost connection. Cancel-safe: nothing is lost when the future is
    /// dropped.
    ///
    /// # Errors
    /// The shared socket's thread is gone (the context is ending).
    pub async fn recv(&mut self) -> Result<NodeEvent, ConnectionError> {
        loop {
            // Replies that came before the loss are delivered first.
            if let Ok(reply) = self.replies.try_recv() {
                return Ok(NodeEvent::Reply(reply));
            }
            if self.peer.lost.swap(false, Ordering::AcqRel) {
                return Ok(NodeEvent::Disconnected);
            }
            tokio::select! {
                reply = self.replies.recv() => return match reply {
                    Some(reply) => Ok(NodeEvent::Reply(reply)),
                    None => Err(ConnectionError::zmq("recv", &self.endpoint, zmq::Error::ETERM)),
                },
                () = self.peer.notify.notified() => {}
            }
        }
    }
}

/// Direct calls on one node connection ([`NodeSocket::caller`]): the request goes to the nodes'
/// thread, which sends it, waits for the reply with its deadline and hands it over; nothing
/// passes through the task that owns the [`NodeSocket`]. A fan-out over a thousand nodes then
/// costs a thousand channel sends, not two task wake-ups per node.
#[derive(Clone)]
pub struct NodeCaller {
    hub: Arc<Hub>,
    route: NodeRoute,
}

impl NodeCaller {
    /// The connection it calls on.
    pub fn route(&self) -> NodeRoute {
        self.route
    }

    /// Sends the request `encode` builds under the upstream id it is given, and waits for the
    /// node's reply at most `timeout`. [`Unanswered::NotSent`] when
    /// the connection is not up; [`Unanswered::Gone`] when the nodes'
    /// thread is gone (the master is ending).
    pub async fn call(&self, encode: impl FnOnce(&str) -> Vec<u8>, timeout: Duration) -> Outcome {
        let limit = (timeout, std::time::Instant::now() + timeout);
        let (seq, upstream_id) = self.hub.next_call();
        let frame = encode(&upstream_id);
        let (reply, outcome) = oneshot::channel();
        if !self.hub.tell(Command::Call { seq, route: self.route, frame, limit, reply }) {
            return Outcome::Unanswered(Unanswered::Gone);
        }
        outcome.await.unwrap_or(Outcome::Unanswered(Unanswered::Gone))
    }
}

impl Drop for NodeSocket {
    fn drop(&mut self) {
        self.hub.tell(Command::Disconnect { id: self.id });
    }
}
