//! The publisher task: the only owner of the two merged PUB sockets.

use std::collections::HashMap;
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
pub async fn run(stats: StreamSender, events: StreamSender, mut rx: mpsc::Receiver<Out>, tap: Tap) {
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
