//! The stream tap: every merged stats and event message, handed to in-process readers (the
//! dashboard's cluster view, `/metrics`) without going through the master's own PUB sockets.
//!
//! A `tokio::sync::broadcast` channel: the publisher offers each message after publishing it and
//! never waits. A reader that falls more than [`TAP_CAPACITY`] messages behind loses the oldest
//! ones; the loss is counted in [`Tap::dropped`], as the PUB sockets' high-water marks drop for
//! slow ZeroMQ subscribers. With no reader, offering costs one atomic load.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::broadcast;

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
    /// The node it came from; `None` for the merged `stat.sockets` total.
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
    /// Hands a published message to the readers, if there are any; never waits.
    pub fn offer(&self, kind: TapKind, topic: Vec<u8>, payload: Vec<u8>) {
        if self.tx.receiver_count() == 0 {
            return;
        }
        let node = message_node(kind, &topic, &payload).map(Arc::from);
        let _ = self.tx.send(Arc::new(TapMessage { kind, node, topic, payload }));
    }

    /// A new reader, which sees every message offered from now on.
    pub fn subscribe(&self) -> TapReceiver {
        TapReceiver { rx: self.tx.subscribe(), dropped: self.dropped.clone() }
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

/// The node of a merged message, read without parsing JSON: events name it in the topic
/// (`watcher.<node>:...`, `cluster.<node>.<event>`; node names never hold `:` or `.`), stats end
/// with the `"node": "<node>"}` the feed spliced in (names need no escaping).
fn message_node<'a>(kind: TapKind, topic: &'a [u8], payload: &'a [u8]) -> Option<&'a str> {
    let bytes = match kind {
        TapKind::Event => {
            if let Some(rest) = topic.strip_prefix(b"watcher.") {
                &rest[..rest.iter().position(|&b| b == b':')?]
            } else {
                let rest = topic.strip_prefix(b"cluster.")?;
                &rest[..rest.iter().position(|&b| b == b'.')?]
            }
        }
        TapKind::Stat => {
            let body = payload.trim_ascii_end().strip_suffix(b"\"}")?;
            let marker = b"\"node\": \"";
            let start = body.windows(marker.len()).rposition(|w| w == marker)? + marker.len();
            &body[start..]
        }
    };
    std::str::from_utf8(bytes).ok().filter(|node| !node.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_node_is_read_from_topics_and_spliced_payloads() {
        let event = |topic: &str| message_node(TapKind::Event, topic.as_bytes(), b"{}").map(str::to_string);
        assert_eq!(event("watcher.first:dummy.start").as_deref(), Some("first"));
        assert_eq!(event("cluster.second.down").as_deref(), Some("second"));
        assert_eq!(event("other.x"), None);
        let stat = |payload: &str| message_node(TapKind::Stat, b"stat.a-b", payload.as_bytes()).map(str::to_string);
        assert_eq!(stat(r#"{"cpu": 1.0, "node": "web-1"}"#).as_deref(), Some("web-1"));
        assert_eq!(stat(r#"{"addresses": [], "reads": 0}"#), None);
    }

    #[tokio::test]
    async fn readers_get_every_message_and_slow_ones_drop_counted() {
        let tap = Tap::default();
        tap.offer(TapKind::Stat, b"stat.x".to_vec(), b"{}".to_vec()); // no reader yet: not kept
        let mut reader = tap.subscribe();
        tap.offer(TapKind::Event, b"cluster.first.down".to_vec(), b"{}".to_vec());
        let message = reader.recv().await.unwrap();
        assert_eq!((message.kind, message.node.as_deref()), (TapKind::Event, Some("first")));
        for _ in 0..TAP_CAPACITY + 10 {
            tap.offer(TapKind::Stat, b"stat.first-d".to_vec(), br#"{"node": "first"}"#.to_vec());
        }
        let message = reader.recv().await.unwrap();
        assert_eq!(message.node.as_deref(), Some("first"));
        assert_eq!(tap.dropped(), 10);
    }
}
