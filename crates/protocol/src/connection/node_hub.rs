//! The thread that owns the master's one ROUTER to every node (see [`super::node`]).
//!
//! libzmq sockets are not thread-safe, so one thread owns the ROUTER and its monitor and polls
//! them together with a wake-up descriptor; tokio tasks hand it commands through a channel and
//! write a byte to the wake-up pipe. Replies are routed to each [`NodeSocket`](super::NodeSocket)
//! by the routing id its connection was given (`ZMQ_CONNECT_ROUTING_ID`).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc as std_mpsc, Arc};
use std::thread::JoinHandle;

use tokio::sync::{mpsc, Notify};

use super::{Context, ZmqErr, WIRE_LIMIT};

/// What the hub thread shares with one [`NodeSocket`](super::NodeSocket).
pub(super) struct Peer {
    /// The ZeroMQ handshake with the node is done and the connection has not dropped since.
    pub(super) connected: AtomicBool,
    /// A lost connection not yet reported by `recv`.
    pub(super) lost: AtomicBool,
    /// Wakes `recv` when `lost` is set.
    pub(super) notify: Notify,
}

/// A command for the hub thread.
pub(super) enum Command {
    Connect {
        id: u64,
        endpoint: String,
        peer: Arc<Peer>,
        replies: mpsc::Sender<Vec<u8>>,
        done: std_mpsc::SyncSender<Result<(), zmq::Error>>,
    },
    Send {
        id: u64,
        frame: Vec<u8>,
    },
    Disconnect {
        id: u64,
    },
    Stop,
}

/// The handle on the hub thread; dropping the last one stops it.
pub(super) struct Hub {
    commands: std_mpsc::Sender<Command>,
    wake: UnixStream,
    /// A wake-up byte is written and the thread has not begun draining since: the next
    /// command needs none (a fan-out's thousand sends cost one write, not a thousand).
    woken: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Hub {
    /// Opens the ROUTER and its monitor in `ctx` and starts the thread.
    pub(super) fn start(ctx: &Context) -> Result<Hub, ZmqErr> {
        let (router, monitor) = ctx.open(|context| {
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
        })?;
        let (wake, woken) = UnixStream::pair().map_err(io_err)?;
        wake.set_nonblocking(true).map_err(io_err)?;
        woken.set_nonblocking(true).map_err(io_err)?;
        let (commands, inbox) = std_mpsc::channel();
        let pending_wake = Arc::new(AtomicBool::new(false));
        let thread_wake = pending_wake.clone();
        let thread = std::thread::Builder::new()
            .name("clusterd-nodes".into())
            .spawn(move || {
                Thread {
                    router,
                    monitor,
                    woken,
                    pending_wake: thread_wake,
                    inbox,
                    peers: HashMap::new(),
                    endpoints: HashMap::new(),
                }
                .run()
            })
            .map_err(io_err)?;
        Ok(Hub { commands, wake, woken: pending_wake, thread: Some(thread) })
    }

    /// Hands `command` to the thread; false when the thread is gone.
    pub(super) fn tell(&self, command: Command) -> bool {
        if self.commands.send(command).is_err() {
            return false;
        }
        if !self.woken.swap(true, Ordering::AcqRel) {
            // A full pipe already holds a wake-up: the byte is not needed.
            let _ = (&self.wake).write(&[1]);
        }
        true
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

fn id_of(routing_id: &[u8]) -> Option<u64> {
    match routing_id {
        [b'n', rest @ ..] => Some(u64::from_be_bytes(rest.try_into().ok()?)),
        _ => None,
    }
}

/// One node connection as the thread knows it.
struct Route {
    endpoint: String,
    peer: Arc<Peer>,
    replies: mpsc::Sender<Vec<u8>>,
}

struct Thread {
    router: zmq::Socket,
    monitor: zmq::Socket,
    woken: UnixStream,
    /// [`Hub::woken`]: cleared before the inbox is drained.
    pending_wake: Arc<AtomicBool>,
    inbox: std_mpsc::Receiver<Command>,
    peers: HashMap<u64, Route>,
    /// The connections made to each endpoint (libzmq's events name the endpoint only).
    endpoints: HashMap<String, Vec<u64>>,
}

/// Messages taken from a socket before the others get their turn.
const BATCH: usize = 256;

impl Thread {
    fn run(mut self) {
        loop {
            let (replies, events, wake) = {
                let mut items = [
                    self.router.as_poll_item(zmq::POLLIN),
                    self.monitor.as_poll_item(zmq::POLLIN),
                    zmq::PollItem::from_fd(self.woken.as_raw_fd(), zmq::POLLIN),
                ];
                match zmq::poll(&mut items, -1) {
                    Ok(_) | Err(zmq::Error::EINTR) => {}
                    // The context is ending: nothing more can be done.
                    Err(_) => return,
                }
                (items[0].is_readable(), items[1].is_readable(), items[2].is_readable())
            };
            if wake {
                // Emptied before the commands are read: a command queued after this still
                // leaves a byte behind, so none waits for the next poll.
                let mut sink = [0u8; 256];
                while matches!((&self.woken).read(&mut sink), Ok(n) if n > 0) {}
                // Cleared before the drain: a command queued from here on writes a new byte.
                self.pending_wake.store(false, Ordering::Release);
            }
            while let Ok(command) = self.inbox.try_recv() {
                if !self.obey(command) {
                    return;
                }
            }
            if replies {
                self.route_replies();
            }
            if events {
                self.read_events();
            }
        }
    }

    /// Runs one command; false on `Stop`.
    fn obey(&mut self, command: Command) -> bool {
        match command {
            Command::Connect { id, endpoint, peer, replies, done } => {
                let connected = set_connect_routing_id(&mut self.router, &routing_id(id))
                    .and_then(|()| self.router.connect(&endpoint));
                if connected.is_ok() {
                    self.endpoints.entry(endpoint.clone()).or_default().push(id);
                    self.peers.insert(id, Route { endpoint, peer, replies });
                }
                let _ = done.send(connected);
            }
            Command::Send { id, frame } => self.send(id, frame),
            Command::Disconnect { id } => self.disconnect(id),
            Command::Stop => return false,
        }
        true
    }

    fn send(&mut self, id: u64, frame: Vec<u8>) {
        let sent = self
            .router
            .send(&routing_id(id)[..], zmq::DONTWAIT | zmq::SNDMORE)
            .and_then(|()| self.router.send(frame, zmq::DONTWAIT));
        if sent.is_err() {
            // No pipe (EHOSTUNREACH) or a full one (EAGAIN): the request is lost, and the link
            // learns it at once rather than at its deadline.
            if let Some(route) = self.peers.get(&id) {
                report_lost(&route.peer);
            }
        }
    }

    fn disconnect(&mut self, id: u64) {
        let Some(route) = self.peers.remove(&id) else { return };
        let Some(ids) = self.endpoints.get_mut(&route.endpoint) else { return };
        ids.retain(|other| *other != id);
        // libzmq disconnects every connection to an endpoint at once: one still used by another
        // NodeSocket (a node re-added before the old link was dropped) stays until the last goes.
        if ids.is_empty() {
            self.endpoints.remove(&route.endpoint);
            let _ = self.router.disconnect(&route.endpoint);
        }
    }

    fn route_replies(&mut self) {
        for _ in 0..BATCH {
            let Ok(frames) = self.router.recv_multipart(zmq::DONTWAIT) else { return };
            let Some((sender, body)) = frames.split_first() else { continue };
            let Some(route) = id_of(sender).and_then(|id| self.peers.get(&id)) else { continue };
            // Multi-frame replies are joined (circusd sends one frame). A full queue means the
            // node sends what nobody asked for: dropped, as a full DEALER queue did.
            let _ = route.replies.try_send(body.concat());
        }
    }

    fn read_events(&mut self) {
        for _ in 0..BATCH {
            let Ok(frames) = self.monitor.recv_multipart(zmq::DONTWAIT) else { return };
            let [event, endpoint, ..] = frames.as_slice() else { continue };
            let Some(code) = event.get(..2).map(|code| u16::from_le_bytes([code[0], code[1]])) else { continue };
            let endpoint = String::from_utf8_lossy(endpoint);
            for id in self.ids_on(&endpoint) {
                let Some(route) = self.peers.get(&id) else { continue };
                if u32::from(code) == zmq_sys::ZMQ_EVENT_HANDSHAKE_SUCCEEDED {
                    route.peer.connected.store(true, Ordering::Release);
                } else {
                    route.peer.connected.store(false, Ordering::Release);
                    report_lost(&route.peer);
                }
            }
        }
    }

    /// The connections to `endpoint` as libzmq names it (`tcp://[::1]:5555` may have been given
    /// as `tcp://[0::1]:5555`).
    fn ids_on(&self, endpoint: &str) -> Vec<u64> {
        if let Some(ids) = self.endpoints.get(endpoint) {
            return ids.clone();
        }
        let wanted = socket_address(endpoint);
        self.endpoints
            .iter()
            .filter(|(given, _)| wanted.is_some() && socket_address(given) == wanted)
            .flat_map(|(_, ids)| ids.iter().copied())
            .collect()
    }
}

fn socket_address(endpoint: &str) -> Option<std::net::SocketAddr> {
    endpoint.strip_prefix("tcp://")?.parse().ok()
}

fn report_lost(peer: &Peer) {
    peer.lost.store(true, Ordering::Release);
    peer.notify.notify_one();
}

/// `ZMQ_CONNECT_ROUTING_ID` (option 61), which the `zmq` crate has no setter for: the routing
/// id the next `connect` gives its connection.
fn set_connect_routing_id(socket: &mut zmq::Socket, id: &[u8]) -> Result<(), zmq::Error> {
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
