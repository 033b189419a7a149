//! The master's command endpoints: a bound ROUTER, served either by a tokio task of the master
//! ([`CommandServer::bind`], the read-only endpoint) or by the nodes' thread with the master's
//! [`Shortcut`] ([`CommandServer::bind_on_node_thread`], the command endpoint).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tmq::AsZmqSocket;
use tokio::sync::mpsc;

use super::node_hub::{Command, Hub};
use super::shortcut::{Shortcut, Unanswered};
use super::{bound_endpoint, send_now, ConnectionError, Context, WIRE_LIMIT};

/// A command endpoint: a bound ROUTER.
pub struct CommandServer {
    backend: Backend,
    endpoint: String,
    bound: String,
}

enum Backend {
    /// Polled by the task that calls [`CommandServer::recv`].
    Local(tmq::router::Router),
    /// Owned by the nodes' thread, which hands over what its shortcut does not take.
    NodeThread {
        hub: Arc<Hub>,
        requests: mpsc::UnboundedReceiver<Vec<Vec<u8>>>,
        /// Requests forwarded by the shortcut and not answered yet.
        forwarded: Arc<AtomicUsize>,
    },
}

impl CommandServer {
    /// Binds a ROUTER on `endpoint`, served by the task that calls [`CommandServer::recv`].
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
        let bound = bound_endpoint(socket.get_socket(), endpoint);
        Ok(CommandServer { backend: Backend::Local(socket), endpoint: endpoint.to_string(), bound })
    }

    /// Binds a ROUTER on `endpoint` and hands it to the thread that owns `nodes`' ROUTER (in
    /// that thread's context, whose I/O thread then carries both): requests for one node can
    /// be forwarded without leaving the thread once [`CommandServer::set_shortcut`] is called;
    /// until then, and for what the shortcut does not take, [`CommandServer::recv`] gets them.
    ///
    /// # Errors
    /// The endpoint is malformed or already in use, or the nodes' thread could not start.
    pub fn bind_on_node_thread(nodes: &Context, endpoint: &str) -> Result<Self, ConnectionError> {
        let hub = nodes.node_hub().map_err(|e| ConnectionError::zmq("bind", endpoint, e))?;
        let bind = || -> Result<zmq::Socket, zmq::Error> {
            let socket = hub.context().socket(zmq::ROUTER)?;
            socket.set_linger(0)?;
            socket.set_maxmsgsize(WIRE_LIMIT)?;
            // See `bind`: a reply to a vanished client fails, and is counted.
            socket.set_router_mandatory(true)?;
            socket.bind(endpoint)?;
            Ok(socket)
        };
        let socket = bind().map_err(|e| ConnectionError::zmq("bind", endpoint, e))?;
        let bound = bound_endpoint(&socket, endpoint);
        let (slow, requests) = mpsc::unbounded_channel();
        let forwarded = Arc::new(AtomicUsize::new(0));
        let attach =
            Command::AttachFront { socket, endpoint: endpoint.to_string(), slow, forwarded: forwarded.clone() };
        if !hub.tell(attach) {
            return Err(ConnectionError::zmq("bind", endpoint, zmq::Error::ETERM));
        }
        let backend = Backend::NodeThread { hub, requests, forwarded };
        Ok(CommandServer { backend, endpoint: endpoint.to_string(), bound })
    }

    /// Lets `shortcut` forward requests from the nodes' thread (no effect on an endpoint served
    /// by a task).
    pub fn set_shortcut(&self, shortcut: Arc<dyn Shortcut>) {
        if let Backend::NodeThread { hub, .. } = &self.backend {
            hub.tell(Command::SetShortcut(shortcut));
        }
    }

    /// Requests the shortcut forwarded that are not answered yet.
    pub fn forwarded(&self) -> usize {
        match &self.backend {
            Backend::Local(_) => 0,
            Backend::NodeThread { forwarded, .. } => forwarded.load(Ordering::Acquire),
        }
    }

    /// Answers every request the shortcut forwarded and is still waiting for (the master is
    /// stopping): each gets the shortcut's reply to [`Unanswered::Abandoned`] with `reason`.
    pub fn abandon_forwarded(&self, reason: &str) {
        if let Backend::NodeThread { hub, .. } = &self.backend {
            hub.tell(Command::Abandon(Unanswered::Abandoned(reason.to_string())));
        }
    }

    /// Closes the endpoint, giving the replies still queued in libzmq up to `linger` to leave
    /// (the last replies of a stopping master). Closing returns at once; libzmq sends them in
    /// the background, and dropping the last [`Context`] waits for that, at most `linger`.
    pub fn close(self, linger: Duration) {
        let millis = i32::try_from(linger.as_millis()).unwrap_or(i32::MAX);
        match &self.backend {
            Backend::Local(socket) => {
                let _ = socket.get_socket().set_linger(millis);
            }
            Backend::NodeThread { hub, .. } => {
                hub.tell(Command::CloseFront { linger: millis });
            }
        }
    }

    /// The next message as frames; the first frame is the peer's identity. Cancel-safe.
    ///
    /// # Errors
    /// A libzmq failure on the socket, or the nodes' thread is gone.
    pub async fn recv(&mut self) -> Result<Vec<Vec<u8>>, ConnectionError> {
        let gone = || ConnectionError::zmq("recv", &self.endpoint, zmq::Error::ETERM);
        match &mut self.backend {
            Backend::Local(socket) => match socket.next().await {
                Some(Ok(multipart)) => Ok(multipart.iter().map(|m| m.to_vec()).collect()),
                Some(Err(err)) => Err(ConnectionError::zmq("recv", &self.endpoint, err)),
                None => Err(gone()),
            },
            Backend::NodeThread { requests, .. } => requests.recv().await.ok_or_else(gone),
        }
    }

    /// Sends `frames` (identity first) without blocking. On the nodes' thread the send happens
    /// there, and a failure is reported to the shortcut ([`Shortcut::undelivered`]).
    ///
    /// # Errors
    /// [`ConnectionError::WouldBlock`] when the peer's queue is full,
    /// [`ConnectionError::PeerGone`] when the identity is not (or no longer) connected.
    pub fn send(&self, frames: &[&[u8]]) -> Result<(), ConnectionError> {
        match &self.backend {
            Backend::Local(socket) => send_now(socket.get_socket(), frames, &self.endpoint),
            Backend::NodeThread { hub, .. } => {
                let frames = frames.iter().map(|frame| frame.to_vec()).collect();
                if hub.reply(frames) {
                    Ok(())
                } else {
                    Err(ConnectionError::zmq("send", &self.endpoint, zmq::Error::ETERM))
                }
            }
        }
    }

    /// The endpoint actually bound: with a port of `*`, the one the system picked.
    pub fn bound_endpoint(&self) -> String {
        self.bound.clone()
    }
}

impl Drop for CommandServer {
    /// The nodes' thread lets go of the socket and the shortcut (which may hold the master's
    /// state, and with it the thread's own handle). After [`CommandServer::close`] this does
    /// nothing more.
    fn drop(&mut self) {
        if let Backend::NodeThread { hub, .. } = &self.backend {
            hub.tell(Command::CloseFront { linger: 0 });
        }
    }
}
