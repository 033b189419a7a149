//! The publisher task: the only owner of the two merged PUB sockets.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clusterd_protocol::connection::stream::StreamSender;
use tokio::sync::mpsc;
use tracing::warn;

use super::rewrite::{merged_sockets_total, SocketsTotal};
use super::tap::{Tap, TapKind};

/// What the feeds hand to the publisher.
pub enum Out {
    /// A rewritten stats message.
    Stat(Vec<u8>, Vec<u8>),
    /// A rewritten or master event.
    Event(Vec<u8>, Vec<u8>),
    /// A node's latest socket total; the merged total is republished.
    SocketsTotal {
        /// The node.
        node: Arc<str>,
        /// Which attachment of the node (a replaced node gets a new one).
        index: u32,
        /// Its addresses (qualified) and reads.
        total: SocketsTotal,
    },
    /// The node's feed stopped: forget its socket total.
    Forget {
        /// The node.
        node: Arc<str>,
        /// Which attachment stopped.
        index: u32,
    },
}

impl Out {
    /// The bytes this message holds while it waits in the queue.
    fn bytes(&self) -> usize {
        match self {
            Out::Stat(topic, payload) | Out::Event(topic, payload) => topic.len() + payload.len(),
            Out::SocketsTotal { total, .. } => total.addresses.iter().map(String::len).sum::<usize>() + 16,
            Out::Forget { .. } => 0,
        }
    }
}

/// The queue from the feeds (and the registry's cluster events) to the publisher, bounded both
/// in messages and in bytes: a node publishing large messages fills the byte budget long before
/// the message count, and what does not fit is dropped by the sender (and counted).
#[derive(Clone)]
pub struct Queue {
    tx: mpsc::Sender<Out>,
    bytes: Arc<AtomicUsize>,
    max_bytes: usize,
}

/// Why [`Queue::try_send`] did not queue a message.
pub enum Refused {
    /// The queue holds its maximum of messages or bytes.
    Full,
    /// The publisher is gone (the master is stopping).
    Closed,
}

/// The publisher's end of a [`Queue`].
pub struct QueueReceiver {
    rx: mpsc::Receiver<Out>,
    bytes: Arc<AtomicUsize>,
}

/// A queue of at most `messages` messages and `max_bytes` bytes.
pub fn queue(messages: usize, max_bytes: usize) -> (Queue, QueueReceiver) {
    let (tx, rx) = mpsc::channel(messages);
    let bytes = Arc::new(AtomicUsize::new(0));
    (Queue { tx, bytes: bytes.clone(), max_bytes }, QueueReceiver { rx, bytes })
}

impl Queue {
    /// Queues `out` unless the queue is full (in messages or bytes) or closed.
    pub fn try_send(&self, out: Out) -> Result<(), Refused> {
        let size = out.bytes();
        if self.bytes.fetch_add(size, Ordering::Relaxed) + size > self.max_bytes && size > 0 {
            self.bytes.fetch_sub(size, Ordering::Relaxed);
            return Err(Refused::Full);
        }
        self.tx.try_send(out).map_err(|err| {
            self.bytes.fetch_sub(size, Ordering::Relaxed);
            match err {
                mpsc::error::TrySendError::Full(_) => Refused::Full,
                mpsc::error::TrySendError::Closed(_) => Refused::Closed,
            }
        })
    }
}

impl QueueReceiver {
    async fn recv(&mut self) -> Option<Out> {
        let out = self.rx.recv().await?;
        self.bytes.fetch_sub(out.bytes(), Ordering::Relaxed);
        Some(out)
    }
}

/// Before publishing anything, give subscribers that were waiting for the master (they retry
/// their connection every 100 ms or more) time to connect, so that the start-up events
/// (`cluster.<node>.joined`, the first `alive`) are not lost to ZeroMQ's "slow joiner" effect.
/// Messages wait in the queue meanwhile.
const STARTUP_GRACE: Duration = Duration::from_secs(1);

/// A node's socket total older than this (circusd-stats publishes every second) is left out of
/// the merged total: the node is down or its circusd-stats stopped.
const SOCKETS_TOTAL_TTL: Duration = Duration::from_secs(5);

/// A node's last socket total: the attachment it came from, when, and the total.
struct LastTotal {
    index: u32,
    at: Instant,
    total: SocketsTotal,
}

/// Publishes everything that arrives on `rx` until every feed and the registry are gone, and
/// offers each stats and event message to the in-process `tap` once published.
pub async fn run(stats: StreamSender, events: StreamSender, mut rx: QueueReceiver, tap: Tap) {
    tokio::time::sleep(STARTUP_GRACE).await;
    let mut socket_totals: HashMap<Arc<str>, LastTotal> = HashMap::new();
    while let Some(out) = rx.recv().await {
        let sent = match out {
            Out::Stat(topic, payload) => {
                let sent = stats.send(&topic, &payload);
                tap.offer(TapKind::Stat, topic, payload);
                sent
            }
            Out::Event(topic, payload) => {
                let sent = events.send(&topic, &payload);
                tap.offer(TapKind::Event, topic, payload);
                sent
            }
            Out::SocketsTotal { node, index, total } => {
                let now = Instant::now();
                socket_totals.insert(node, LastTotal { index, at: now, total });
                socket_totals.retain(|_, last| now.duration_since(last.at) < SOCKETS_TOTAL_TTL);
                let merged = merged_sockets_total(socket_totals.values().map(|last| &last.total));
                stats.send(b"stat.sockets", &merged)
            }
            Out::Forget { node, index } => {
                if socket_totals.get(&node).is_some_and(|last| last.index == index) {
                    socket_totals.remove(&node);
                }
                Ok(())
            }
        };
        if let Err(err) = sent {
            warn!(cause = %err, "publish failed");
        }
    }
}
