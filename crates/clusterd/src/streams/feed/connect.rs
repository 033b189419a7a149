//! Opening and closing a feed's SUB sockets: which of the node's streams are wanted, and
//! subscribing to them (a host name looked up first).

use std::sync::atomic::Ordering;

use clusterd_protocol::connection::forward::{Forwarder, Source};
use clusterd_protocol::connection::stream::StreamReceiver;
use clusterd_protocol::connection::ConnectionError;
use clusterd_protocol::endpoint::resolve;
use clusterd_protocol::Endpoint;
use tracing::warn;

use super::Feed;
use crate::link::LOOKUP_TIMEOUT;
use crate::streams::forwarding::Tag;
use crate::streams::interest::Wanted;

/// Queue of each SUB socket inside libzmq: 100 messages, several cycles of one node's stream.
/// When the master falls behind, a full queue stops reading the node's TCP connection, and the
/// node's PUB drops, as it would for any slow Circus subscriber. A deeper queue only buffers:
/// with 10,000 per node, a flood from 1,000 nodes grew the master to 470 MiB and its delivered
/// rate fell tenfold (allocator churn).
const RCVHWM: i32 = clusterd_protocol::connection::stream::NODE_STREAM_QUEUE;

/// The node's stats SUB, in the forwarding thread's hands while this lives.
pub(super) struct Attachment {
    id: u64,
    forwarder: Forwarder<Tag>,
}

impl Drop for Attachment {
    fn drop(&mut self) {
        self.forwarder.detach(self.id);
    }
}

impl Feed {
    /// A SUB on the node's stats stream if it is wanted (and known), handed to the forwarding
    /// thread.
    pub(super) async fn connect_stats(&self, wanted: Wanted) -> Option<Attachment> {
        let endpoint = self.stats.borrow().clone();
        if !wanted.stats {
            return None;
        }
        let endpoint = self.resolve(endpoint?).await?;
        match Source::connect(&self.stats_ctx, endpoint.as_str(), b"stat.", RCVHWM, self.max_message) {
            Ok(source) => {
                let tag = Tag { node: self.node.clone(), index: self.index, counters: self.counters.clone() };
                Some(Attachment { id: self.forwarder.attach(source, tag), forwarder: self.forwarder.clone() })
            }
            Err(err) => {
                warn!(node = %self.node, cause = %err, "cannot subscribe to the node's stream");
                None
            }
        }
    }

    /// A SUB on the node's event stream if it is wanted (and known).
    pub(super) async fn connect_events(&self, wanted: Wanted) -> Option<StreamReceiver> {
        let endpoint = self.pubsub.borrow().clone();
        if wanted.events {
            self.connect(endpoint, b"watcher.").await
        } else {
            None
        }
    }

    /// Shows in `nodes` which of the node's streams are held now.
    pub(super) fn show(&self, stats: &Option<Attachment>, events: &Option<StreamReceiver>) {
        self.counters.stats_subscribed.store(stats.is_some(), Ordering::Relaxed);
        self.counters.events_subscribed.store(events.is_some(), Ordering::Relaxed);
    }

    /// Subscribes to `endpoint`, a host name looked up first (never by libzmq, which would block
    /// this worker thread and every socket opening behind the contexts' lock).
    async fn connect(&self, endpoint: Option<Endpoint>, prefix: &[u8]) -> Option<StreamReceiver> {
        let endpoint = self.resolve(endpoint?).await?;
        match StreamReceiver::connect(&self.ctx, endpoint.as_str(), prefix, RCVHWM, self.max_message) {
            Ok(socket) => Some(socket),
            Err(err) => {
                warn!(node = %self.node, cause = %err, "cannot subscribe to the node's stream");
                None
            }
        }
    }

    /// `endpoint` with its host name looked up; `None` (logged) when it does not resolve.
    async fn resolve(&self, endpoint: Endpoint) -> Option<Endpoint> {
        match resolve(&endpoint, LOOKUP_TIMEOUT).await {
            Ok(endpoint) => Some(endpoint),
            Err(reason) => {
                warn!(node = %self.node, %reason, "cannot subscribe to the node's stream");
                None
            }
        }
    }

    pub(super) async fn pause(&self, err: ConnectionError) {
        warn!(node = %self.node, cause = %err, "stream receive failed");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
