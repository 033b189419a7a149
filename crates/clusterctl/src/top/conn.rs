//! `top`'s I/O: two background threads feeding one channel.
//!
//! * the stats thread: a SUB on the stats endpoint (`stat.` prefix), forwarding every 2-frame
//!   publication (circus-top drops other frame counts, and so do we);
//! * the nodes thread: `nodes` on the master's command endpoint every [`POLL_INTERVAL`].
//!
//! Reconnecting is libzmq's job: a SUB or DEALER whose peer goes away reconnects by itself. The
//! one thing done here is replacing the DEALER after a failed poll, so that requests queued for
//! a dead master are dropped instead of piling up. Both threads stop when the [`Connection`] is
//! dropped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use clusterd_protocol::connection::{Client, Subscriber};
use clusterd_protocol::Request;
use serde_json::Map;

use super::decode;
use crate::error::CtlError;

/// How often the master is asked for node states.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// How long a `nodes` poll waits for its reply.
const POLL_DEADLINE: Duration = Duration::from_secs(1);

/// How long a thread blocks before checking its stop flag.
const SLICE: Duration = Duration::from_millis(250);

/// What the background threads report.
#[derive(Debug)]
pub enum Update {
    /// A stats publication: topic and payload.
    Stat(Vec<u8>, Vec<u8>),
    /// The result of a `nodes` poll: `(name, state)` pairs, or `None` when it failed.
    Nodes(Option<Vec<(String, String)>>),
    /// The stats socket failed for good (libzmq error); the text says why.
    Failed(String),
}

/// The running threads: their updates, and a flag that stops them when this is dropped.
pub struct Connection {
    /// Updates in arrival order.
    pub updates: Receiver<Update>,
    /// Set on drop; the threads check it between waits.
    stop: Arc<AtomicBool>,
}

impl Drop for Connection {
    /// Asks the threads to stop (they notice within a quarter of a second).
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Connects to `stats` (and to `master` when given) and starts the threads.
///
/// # Errors
/// A malformed endpoint, before any thread starts, or no thread could be started.
pub fn start(stats: &str, master: Option<&str>) -> Result<Connection, CtlError> {
    let subscriber = Subscriber::connect(stats, &["stat.".to_string()])?;
    let client = match master {
        Some(endpoint) => Some((endpoint.to_string(), Client::connect(endpoint, POLL_DEADLINE)?)),
        None => None,
    };
    let (tx, updates) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    if let Some((endpoint, client)) = client {
        let (tx, stop) = (tx.clone(), Arc::clone(&stop));
        thread::Builder::new().name("top-nodes".into()).spawn(move || poll_nodes(&endpoint, client, &tx, &stop))?;
    }
    let thread_stop = Arc::clone(&stop);
    thread::Builder::new().name("top-stats".into()).spawn(move || forward_stats(&subscriber, &tx, &thread_stop))?;
    Ok(Connection { updates, stop })
}

/// Forwards 2-frame publications until stopped, the receiver goes away or the socket fails.
fn forward_stats(subscriber: &Subscriber, tx: &Sender<Update>, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        let update = match subscriber.recv_timeout(SLICE) {
            Ok(Some(frames)) => match <[Vec<u8>; 2]>::try_from(frames) {
                Ok([topic, payload]) => Update::Stat(topic, payload),
                Err(_) => continue,
            },
            Ok(None) => continue,
            Err(err) => Update::Failed(err.to_string()),
        };
        let failed = matches!(update, Update::Failed(_));
        if tx.send(update).is_err() || failed {
            return;
        }
    }
}

/// Asks `nodes` every [`POLL_INTERVAL`] until stopped or the receiver goes away.
fn poll_nodes(endpoint: &str, mut client: Client, tx: &Sender<Update>, stop: &AtomicBool) {
    let request = Request::new("nodes", Map::new());
    while !stop.load(Ordering::Relaxed) {
        let next = Instant::now() + POLL_INTERVAL;
        let states = match client.call(&request) {
            Ok(reply) => decode::node_states(&reply),
            Err(_) => {
                // A fresh DEALER drops the requests still queued for a master that is away.
                if let Ok(fresh) = Client::connect(endpoint, POLL_DEADLINE) {
                    client = fresh;
                }
                None
            }
        };
        if tx.send(Update::Nodes(states)).is_err() {
            return;
        }
        while !stop.load(Ordering::Relaxed) && Instant::now() < next {
            thread::sleep(SLICE.min(next.saturating_duration_since(Instant::now())));
        }
    }
}
