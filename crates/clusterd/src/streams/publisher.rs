//! The publisher task: the only owner of the two merged PUB sockets.

use std::collections::HashMap;
use std::sync::Arc;

use clusterd_protocol::connection::stream::StreamSender;
use tokio::sync::mpsc;
use tracing::warn;

use super::rewrite::{merged_sockets_total, SocketsTotal};

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

/// Publishes everything that arrives on `rx` until every feed and the registry are gone.
pub async fn run(stats: StreamSender, events: StreamSender, mut rx: mpsc::Receiver<Out>) {
    // Each node's last total, with the attachment it came from.
    let mut socket_totals: HashMap<Arc<str>, (u32, SocketsTotal)> = HashMap::new();
    while let Some(out) = rx.recv().await {
        let sent = match out {
            Out::Stat(topic, payload) => stats.send(&topic, &payload),
            Out::Event(topic, payload) => events.send(&topic, &payload),
            Out::SocketsTotal { node, index, total } => {
                socket_totals.insert(node, (index, total));
                let merged = merged_sockets_total(socket_totals.values().map(|(_, total)| total));
                stats.send(b"stat.sockets", &merged)
            }
            Out::Forget { node, index } => {
                if socket_totals.get(&node).is_some_and(|(i, _)| *i == index) {
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
