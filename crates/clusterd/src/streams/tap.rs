//! The stream tap: every merged stats and event message, handed to in-process readers (the
//! dashboard's cluster view, `/metrics`) without going through the master's own PUB sockets.
//!
//! A `tokio::sync::broadcast` channel: the publisher offers each event and a sample of the stats
//! (one cycle per node every 2 s, `streams/sample.rs`) after publishing it, and never waits. A reader that falls more than [`TAP_CAPACITY`] messages behind loses the oldest
//! ones; the loss is counted in [`Tap::dropped`], as the PUB sockets' high-water marks drop for
//! slow ZeroMQ subscribers. With no reader, nothing is sampled or offered.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::broadcast;

use super::interest::Demand;

/// Messages a reader may fall behind before it loses the oldest (a few seconds of a busy
/// cluster).
pub const TAP_CAPACITY: usize = 16_384;

/// Which merged stream a message was published on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TapKind {
    /// `stat.<node>-<watcher>[.<pid>]`, `stat.sockets[.<n>]`.
    Stat,
    /// `watcher.<node>:<watcher>.<event>` or `cluster.<node>.<event>`.
    Event,
}

/// One merged message, as published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapMessage {
    /// The stream.
    pub kind: TapKind,
    /// The node it came from.
    pub node: Option<Arc<str>>,
    /// The merged topic.
    pub topic: Vec<u8>,
    /// The JSON payload (with `node` added).
    pub payload: Vec<u8>,
}

/// The sending side, owned by [`super::Streams`]; cheap to clone.
#[derive(Clone)]
pub struct Tap {
    tx: broadcast::Sender<Arc<TapMessage>>,
    dropped: Arc<AtomicU64>,
}

impl Default for Tap {
    fn default() -> Self {
        Tap { tx: broadcast::channel(TAP_CAPACITY).0, dropped: Arc::default() }
    }
}

impl Tap {
    /// Hands a published message of `node` to the readers, if there are any; never waits.
    pub fn offer(&self, kind: TapKind, node: Option<Arc<str>>, topic: Vec<u8>, payload: Vec<u8>) {
        if self.has_readers() {
            let _ = self.tx.send(Arc::new(TapMessage { kind, node, topic, payload }));
        }
    }

    /// Whether anybody reads the tap (with nobody, the feeds sample nothing for it).
    pub fn has_readers(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    /// A new reader, which sees every message offered from now on and holds `demand` (every
    /// node's streams wanted) while it lives.
    pub fn subscribe(&self, demand: Demand) -> TapReceiver {
        TapReceiver { rx: self.tx.subscribe(), dropped: self.dropped.clone(), _demand: demand }
    }

    /// Messages lost by readers that fell behind, over all readers.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// One reader of the tap.
pub struct TapReceiver {
    rx: broadcast::Receiver<Arc<TapMessage>>,
    dropped: Arc<AtomicU64>,
    _demand: Demand,
}

impl TapReceiver {
    /// The next message; `None` once the streams are gone. Messages lost because this reader
    /// fell behind are counted and skipped.
    pub async fn recv(&mut self) -> Option<Arc<TapMessage>> {
        loop {
            match self.rx.recv().await {
                Ok(message) => return Some(message),
                Err(broadcast::error::RecvError::Lagged(lost)) => {
                    self.dropped.fetch_add(lost, Ordering::Relaxed);
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn readers_get_every_message_and_slow_ones_drop_counted() {
        let tap = Tap::default();
        let first = || Some(Arc::from("first"));
        assert!(!tap.has_readers());
        tap.offer(TapKind::Stat, first(), b"stat.x".to_vec(), b"{}".to_vec()); // no reader yet: not kept
        let interest = Arc::new(tokio::sync::watch::channel(super::super::interest::Interest::default()).0);
        let mut reader = tap.subscribe(Demand::new(&interest));
        assert_eq!(interest.borrow().internal, 1, "a reader wants the streams");
        assert!(tap.has_readers());
        tap.offer(TapKind::Event, first(), b"cluster.first.down".to_vec(), b"{}".to_vec());
        let message = reader.recv().await.unwrap();
        assert_eq!((message.kind, message.node.as_deref()), (TapKind::Event, Some("first")));
        for _ in 0..TAP_CAPACITY + 10 {
            tap.offer(TapKind::Stat, first(), b"stat.first-d".to_vec(), br#"{"node": "first"}"#.to_vec());
        }
        let message = reader.recv().await.unwrap();
        assert_eq!(message.node.as_deref(), Some("first"));
        assert_eq!(tap.dropped(), 10);
    }
}
