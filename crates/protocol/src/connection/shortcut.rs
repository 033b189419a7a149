//! The command endpoint's shortcut: requests for one node forwarded by the nodes' thread itself.
//!
//! A request through the master used to cross threads six times (libzmq's I/O thread -> the
//! tokio loop owning the command ROUTER -> the request task -> the link task -> the nodes'
//! thread -> libzmq, and back), against two for a plain `zmq_proxy`. With
//! [`CommandServer::bind_on_node_thread`](super::CommandServer::bind_on_node_thread) the command
//! ROUTER belongs to the thread that owns the nodes' ROUTER, and that thread asks the master's
//! [`Shortcut`] what each request is: a plain request for one connected node is rewritten and
//! sent at once, its reply matched and answered on the same thread; anything else (fan-out,
//! the master's own commands, malformed input, a node not connected) goes to the master's loop
//! as before.

use std::time::Duration;

use super::ConnectionError;
use crate::message::Reply;

/// One node connection on the nodes' ROUTER ([`NodeSocket::route`](super::NodeSocket::route)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeRoute(pub(super) u64);

/// Why a request forwarded by the shortcut got no reply from its node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unanswered {
    /// No reply within the request's deadline.
    Timeout(Duration),
    /// The connection closed after the request was sent: its reply will never come.
    ConnectionLost,
    /// The node's connection was closed by the master (the node was unregistered or replaced).
    Gone,
    /// The node's link gave up on it ([`NodeSocket::give_up_forwarded`](super::NodeSocket::give_up_forwarded)):
    /// it stopped answering probes.
    GivenUp,
    /// A direct call ([`NodeCaller::call`](super::NodeCaller::call)) found the connection not
    /// up: nothing was sent (the link's own path waits for the connection).
    NotSent,
    /// The master is stopping and the request did not finish in time ([`super::CommandServer::abandon_forwarded`]).
    Abandoned(String),
}

/// What became of a forwarded request.
#[derive(Debug)]
pub enum Outcome {
    /// The node's reply, its `id` still the upstream one.
    Reply(Reply),
    /// No reply will come.
    Unanswered(Unanswered),
}

/// A request the shortcut takes: where it goes and how its client is answered.
pub struct Forward {
    /// The node connection to send it on.
    pub route: NodeRoute,
    /// The request as the node gets it (under the upstream id it was given).
    pub frame: Vec<u8>,
    /// How long the node has to answer.
    pub timeout: Duration,
    /// Builds the client's reply frame. Dropped unused when the request could not be sent after
    /// all (the connection went down meanwhile): it then goes to the master's loop.
    pub answer: Box<dyn FnOnce(Outcome) -> Vec<u8> + Send>,
}

/// The master's side of the shortcut, called on the nodes' thread: it must not block.
pub trait Shortcut: Send + Sync {
    /// What to do with the request frame `body` from `client` (its ROUTER identity): `Some` to
    /// forward it under `upstream_id`, `None` to hand it to the master's loop. The shortcut
    /// bounds what it takes (the thread holds every forwarded request until it is answered).
    fn forward(&self, client: &[u8], body: &[u8], upstream_id: &str) -> Option<Forward>;

    /// A reply to a client could not be sent (the client is gone, or its queue is full).
    fn undelivered(&self, err: &ConnectionError);
}
