//! The thread that owns the master's one ROUTER to every node (see [`super::node`]), and the
//! command endpoint's ROUTER once it is handed over ([`super::shortcut`]).
//!
//! libzmq sockets are not thread-safe, so one thread owns the ROUTERs and the monitor and polls
//! them together with a wake-up descriptor; tokio tasks hand it commands through a channel and
//! write a byte to the wake-up pipe. Replies are routed to each [`NodeSocket`](super::NodeSocket)
//! by the routing id its connection was given (`ZMQ_CONNECT_ROUTING_ID`), or, for requests the
//! shortcut forwarded, straight to their client ([`front`]).

mod calls;
mod front;
mod nodes;
mod thread;

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc as std_mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, Notify};

use super::shortcut::{NodeRoute, Outcome, Shortcut, Unanswered};
use super::{ZmqErr, WIRE_LIMIT};

/// What the hub thread shares with one [`NodeSocket`](super::NodeSocket).
pub(super) struct Peer {
    /// The ZeroMQ handshake with the node is done and the connection has not dropped since.
    pub(super) connected: AtomicBool,
    /// A lost connection not yet reported by `recv`.
    pub(super) lost: AtomicBool,
    /// Wakes `recv` when `lost` is set.
    pub(super) notify: Notify,
    /// libzmq refused the connect (errno); 0 while it has not. Connects are not waited for
    /// (a restore of thousands of nodes would wait for the thread once per node), and an
    /// endpoint is checked before it gets here, so this is for what libzmq alone refuses.
    pub(super) refused: AtomicI32,
}

/// A command for the hub thread.
pub(super) enum Command {
    Connect {
        id: u64,
        endpoint: String,
        peer: Arc<Peer>,
        replies: mpsc::Sender<Vec<u8>>,
    },
    Send {
        id: u64,
        frame: Vec<u8>,
    },
    Disconnect {
        id: u64,
    },
    /// The link gave up on node connection `id`: the calls on it fail now.
    GiveUp {
        id: u64,
    },
    /// A task's direct call ([`super::NodeCaller`]): `frame` carries upstream id `seq`.
    Call {
        seq: u64,
        route: NodeRoute,
        frame: Vec<u8>,
        /// The caller's timeout, and when it ends (counted from the call, not from when the
        /// thread gets to it).
        limit: (Duration, Instant),
        reply: oneshot::Sender<Outcome>,
    },
    /// From now on the thread serves the command endpoint on `socket` (bound already); what the
    /// shortcut does not take goes to `slow`.
    AttachFront {
        socket: zmq::Socket,
        endpoint: String,
        slow: mpsc::UnboundedSender<Vec<Vec<u8>>>,
        forwarded: Arc<AtomicUsize>,
    },
    SetShortcut(Arc<dyn Shortcut>),
    /// Every request the shortcut forwarded is answered with `why`.
    Abandon(Unanswered),
    /// Closes the command endpoint, its last replies given `linger` ms to leave.
    CloseFront {
        linger: i32,
    },
    Stop,
}

/// The handle on the hub thread; dropping the last one stops it.
pub(super) struct Hub {
    commands: std_mpsc::Sender<Command>,
    /// Replies (identity first) from the master's loop to clients of the command endpoint: a
    /// channel of their own, emptied before any command, so that a reply never waits behind
    /// thousands of node commands (a restore's connects, a fan-out's sends).
    replies: std_mpsc::Sender<Vec<Vec<u8>>>,
    wake: UnixStream,
    /// A wake-up byte is written and the thread has not begun draining since: the next
    /// command needs none (a fan-out's thousand sends cost one write, not a thousand).
    woken: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// Numbers the calls the thread waits for (see [`calls`]).
    seqs: Arc<AtomicU64>,
    /// The upstream ids' prefix, random per master.
    prefix: Arc<str>,
    /// Ended after the thread (which closes the sockets), waiting for what lingers.
    context: zmq::Context,
}

impl Hub {
    /// Opens the ROUTER and its monitor in a context of their own and starts the thread.
    ///
    /// The context is the hub's alone (with the command endpoint, [`Hub::context`]): its I/O
    /// thread carries the command path both ways and nothing else, as `zmq_proxy`'s one context
    /// does, never behind the thousands of stream sockets in the others.
    pub(super) fn start() -> Result<Hub, ZmqErr> {
        if !super::budget::room_for_context() {
            return Err(ZmqErr(zmq::Error::EMFILE));
        }
        let context = zmq::Context::new();
        let (router, monitor) = (|| -> Result<_, ZmqErr> {
            let router = context.socket(zmq::ROUTER)?;
            router.set_linger(0)?;
            router.set_router_mandatory(true)?;
            // Not IMMEDIATE: with it libzmq (4.3) creates the pipe only once the connection is
            // up and forgets the CONNECT_ROUTING_ID by then. Without it the pipe, and its
            // routing id, exist from `connect` on; `Peer::connected` gives the fast failure.
            router.set_immediate(false)?;
            router.set_maxmsgsize(WIRE_LIMIT)?;
            router.set_reconnect_ivl(100)?;
            router.set_reconnect_ivl_max(1000)?;
            let monitor_endpoint = format!("inproc://clusterd-node-hub-{}", uuid::Uuid::new_v4());
            let events = zmq::SocketEvent::HANDSHAKE_SUCCEEDED as i32 | zmq::SocketEvent::DISCONNECTED as i32;
            router.monitor(&monitor_endpoint, events)?;
            let monitor = context.socket(zmq::PAIR)?;
            monitor.set_linger(0)?;
            monitor.connect(&monitor_endpoint)?;
            Ok((router, monitor))
        })()?;
        let (wake, woken) = UnixStream::pair().map_err(io_err)?;
        wake.set_nonblocking(true).map_err(io_err)?;
        woken.set_nonblocking(true).map_err(io_err)?;
        let (commands, inbox) = std_mpsc::channel();
        let (replies, replies_in) = std_mpsc::channel();
        let pending_wake = Arc::new(AtomicBool::new(false));
        let prefix: Arc<str> = format!("clusterd-{}-", &uuid::Uuid::new_v4().simple().to_string()[..8]).into();
        let seqs = Arc::new(AtomicU64::new(0));
        let calls = calls::Calls::new(prefix.clone());
        let thread =
            thread::Thread::new(router, monitor, woken, pending_wake.clone(), (inbox, replies_in), calls, seqs.clone());
        let thread =
            std::thread::Builder::new().name("clusterd-nodes".into()).spawn(move || thread.run()).map_err(io_err)?;
        Ok(Hub { commands, replies, wake, woken: pending_wake, thread: Some(thread), seqs, prefix, context })
    }

    /// The hub's libzmq context, where the command endpoint it serves is opened.
    pub(super) fn context(&self) -> &zmq::Context {
        &self.context
    }

    /// A new call's number and upstream id.
    pub(super) fn next_call(&self) -> (u64, String) {
        let seq = self.seqs.fetch_add(1, Ordering::Relaxed);
        (seq, format!("{}{seq}", self.prefix))
    }

    /// Hands `command` to the thread; false when the thread is gone.
    pub(super) fn tell(&self, command: Command) -> bool {
        if self.commands.send(command).is_err() {
            return false;
        }
        self.wake();
        true
    }

    /// Hands a reply for a client of the command endpoint to the thread; false when the thread
    /// is gone.
    pub(super) fn reply(&self, frames: Vec<Vec<u8>>) -> bool {
        if self.replies.send(frames).is_err() {
            return false;
        }
        self.wake();
        true
    }

    fn wake(&self) {
        if !self.woken.swap(true, Ordering::AcqRel) {
            // A full pipe already holds a wake-up: the byte is not needed.
            let _ = (&self.wake).write(&[1]);
        }
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.tell(Command::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn io_err(err: std::io::Error) -> ZmqErr {
    ZmqErr(err.raw_os_error().map_or(zmq::Error::EFAULT, zmq::Error::from_raw))
}

/// The routing id of connection `id`: never starting with a zero byte (libzmq's own ids do).
pub(super) fn routing_id(id: u64) -> [u8; 9] {
    let mut bytes = [b'n'; 9];
    bytes[1..].copy_from_slice(&id.to_be_bytes());
    bytes
}

pub(super) fn id_of(routing_id: &[u8]) -> Option<u64> {
    match routing_id {
        [b'n', rest @ ..] => Some(u64::from_be_bytes(rest.try_into().ok()?)),
        _ => None,
    }
}

pub(super) fn report_lost(peer: &Peer) {
    peer.lost.store(true, Ordering::Release);
    peer.notify.notify_one();
}

/// `ZMQ_CONNECT_ROUTING_ID` (option 61), which the `zmq` crate has no setter for: the routing
/// id the next `connect` gives its connection.
pub(super) fn set_connect_routing_id(socket: &mut zmq::Socket, id: &[u8]) -> Result<(), zmq::Error> {
    // SAFETY: the socket pointer is valid for the socket's life, and libzmq copies `id`
    // (`id.len()` bytes) before returning.
    let rc = unsafe {
        zmq_sys::zmq_setsockopt(
            socket.as_mut_ptr(),
            zmq_sys::ZMQ_CONNECT_ROUTING_ID as i32,
            id.as_ptr().cast(),
            id.len(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        // SAFETY: zmq_errno only reads the calling thread's errno.
        Err(zmq::Error::from_raw(unsafe { zmq_sys::zmq_errno() }))
    }
}
