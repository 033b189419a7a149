//! A node's feed: SUB sockets on the node's stats and event streams, rewriting each
//! publication for the merged streams.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use clusterd_protocol::connection::stream::{Publication, StreamReceiver};
use clusterd_protocol::connection::{ConnectionError, Context};
use clusterd_protocol::endpoint::resolve;
use clusterd_protocol::Endpoint;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use super::publisher::{Out, Queue, Refused};
use super::rewrite::{self, Stat};
use super::Counters;
use crate::link::LOOKUP_TIMEOUT;

/// Queue of each SUB socket inside libzmq (libzmq's default): a node publishes a few dozen
/// messages a second, so this is over ten seconds of one node's stream. When the master falls
/// behind, a full queue stops reading the node's TCP connection, and the node's PUB drops, as it
/// would for any slow Circus subscriber. A deeper queue only buffers: with 10,000 per node, a
/// flood from 1,000 nodes grew the master to 470 MiB and its delivered rate fell tenfold
/// (allocator churn), where 1,000 keeps it small and delivering at full speed.
const RCVHWM: i32 = 100;

/// Everything a feed task needs.
pub struct Feed {
    pub ctx: Context,
    pub node: Arc<str>,
    pub index: u32,
    pub out: Queue,
    pub counters: Arc<Counters>,
    pub totals: Arc<Counters>,
    pub stats: watch::Receiver<Option<Endpoint>>,
    pub pubsub: watch::Receiver<Option<Endpoint>>,
    pub restarts: watch::Receiver<u64>,
    /// Messages larger than this (topic and payload) are dropped and counted `oversized`.
    pub max_message: usize,
}

/// Stops the feed when dropped, and tells the publisher to forget the node's sockets.
pub struct FeedHandle {
    task: JoinHandle<()>,
    out: Queue,
    node: Arc<str>,
    index: u32,
}

impl Drop for FeedHandle {
    fn drop(&mut self) {
        self.task.abort();
        let _ = self.out.try_send(Out::Forget { node: self.node.clone(), index: self.index });
    }
}

/// Starts the feed task.
pub fn spawn(feed: Feed) -> FeedHandle {
    let (out, node, index) = (feed.out.clone(), feed.node.clone(), feed.index);
    FeedHandle { task: tokio::spawn(feed.run()), out, node, index }
}

impl Feed {
    async fn run(mut self) {
        let stats = self.stats.borrow_and_update().clone();
        let mut stats = self.connect(stats, b"stat.").await;
        let pubsub = self.pubsub.borrow_and_update().clone();
        let mut events = self.connect(pubsub, b"watcher.").await;
        loop {
            // libzmq sockets are outside tokio's cooperative budget: under a flood the next
            // message is always ready, and without this a few busy feeds would hold the worker
            // threads and starve the publisher (measured: 13k/s delivered of 120k/s offered,
            // most of it dropped at the full queue).
            tokio::task::consume_budget().await;
            tokio::select! {
                // A batch is handled in one go: the select's other branches (watch channels)
                // cost a registration each time round, too much to pay per message.
                publication = recv(&mut stats) => match publication {
                    Ok(p) => {
                        self.on_stat(p);
                        while let Some(p) = stats.as_mut().and_then(StreamReceiver::take_ready) {
                            self.on_stat(p);
                        }
                    }
                    Err(err) => self.pause(err).await,
                },
                publication = recv(&mut events) => match publication {
                    Ok(p) => {
                        self.on_event(p);
                        while let Some(p) = events.as_mut().and_then(StreamReceiver::take_ready) {
                            self.on_event(p);
                        }
                    }
                    Err(err) => self.pause(err).await,
                },
                changed = self.stats.changed() => {
                    if changed.is_err() {
                        return; // the node is gone
                    }
                    let endpoint = self.stats.borrow_and_update().clone();
                    stats = self.connect(endpoint, b"stat.").await;
                }
                changed = self.pubsub.changed() => {
                    if changed.is_err() {
                        return; // the node is gone
                    }
                    let endpoint = self.pubsub.borrow_and_update().clone();
                    events = self.connect(endpoint, b"watcher.").await;
                }
                changed = self.restarts.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    // A new circusd: fresh subscriptions, so nothing queued from the old one
                    // is republished.
                    debug!(node = %self.node, "node restarted: resubscribing");
                    let endpoint = self.stats.borrow().clone();
                    stats = self.connect(endpoint, b"stat.").await;
                    let endpoint = self.pubsub.borrow().clone();
                    events = self.connect(endpoint, b"watcher.").await;
                }
            }
        }
    }

    /// Subscribes to `endpoint`, a host name looked up first (never by libzmq, which would block
    /// this worker thread and every socket opening behind the contexts' lock).
    async fn connect(&self, endpoint: Option<Endpoint>, prefix: &[u8]) -> Option<StreamReceiver> {
        let endpoint = match resolve(&endpoint?, LOOKUP_TIMEOUT).await {
            Ok(endpoint) => endpoint,
            Err(reason) => {
                warn!(node = %self.node, %reason, "cannot subscribe to the node's stream");
                return None;
            }
        };
        match StreamReceiver::connect(&self.ctx, endpoint.as_str(), prefix, RCVHWM, self.max_message) {
            Ok(socket) => Some(socket),
            Err(err) => {
                warn!(node = %self.node, cause = %err, "cannot subscribe to the node's stream");
                None
            }
        }
    }

    async fn pause(&self, err: ConnectionError) {
        warn!(node = %self.node, cause = %err, "stream receive failed");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    fn on_stat(&self, p: Publication) {
        if p.oversized {
            return self.count_oversized(&p);
        }
        let node = &*self.node;
        let out =
            match (p.frames, rewrite::classify_stat(node, &p.topic)) {
                (2, Some(Stat::Forward(topic))) => {
                    rewrite::splice_node(&p.payload, node).map(|payload| Out::Stat(topic, payload))
                }
                (2, Some(Stat::Socket(fd))) => rewrite::socket_stat(node, self.index, fd, &p.payload)
                    .map(|(topic, payload)| Out::Stat(topic, payload)),
                (2, Some(Stat::SocketsTotal)) => rewrite::sockets_total(node, &p.payload)
                    .map(|total| Out::SocketsTotal { node: self.node.clone(), index: self.index, total }),
                _ => None,
            };
        self.hand_over(out, &p, |c| &c.stats_forwarded);
    }

    fn on_event(&self, p: Publication) {
        if p.oversized {
            return self.count_oversized(&p);
        }
        let node = &*self.node;
        let out = match (p.frames, rewrite::event_topic(node, &p.topic)) {
            (2, Some(topic)) => rewrite::splice_node(&p.payload, node).map(|payload| Out::Event(topic, payload)),
            _ => None,
        };
        self.hand_over(out, &p, |c| &c.events_forwarded);
    }

    fn count_oversized(&self, p: &Publication) {
        debug!(node = %self.node, frames = p.frames, limit = self.max_message, "dropped an oversized publication");
        self.counters.oversized.fetch_add(1, Ordering::Relaxed);
        self.totals.oversized.fetch_add(1, Ordering::Relaxed);
    }

    /// Queues `out` for the publisher and counts the outcome on the node and the master.
    fn hand_over(
        &self,
        out: Option<Out>,
        p: &Publication,
        forwarded: impl Fn(&Counters) -> &std::sync::atomic::AtomicU64,
    ) {
        let counter: &dyn Fn(&Counters) -> &std::sync::atomic::AtomicU64 = match out {
            None => {
                // The topic is logged escaped (`{:?}`): it is the node's bytes, maybe control
                // characters.
                let topic = String::from_utf8_lossy(&p.topic);
                debug!(node = %self.node, topic = ?topic, frames = p.frames, "refused a malformed publication");
                &|c| &c.malformed
            }
            Some(out) => match self.out.try_send(out) {
                Ok(()) => &forwarded,
                Err(Refused::Full) => &|c| &c.dropped,
                Err(Refused::Closed) => return,
            },
        };
        counter(&self.counters).fetch_add(1, Ordering::Relaxed);
        counter(&self.totals).fetch_add(1, Ordering::Relaxed);
    }
}

/// The next publication of an optional socket; never ready without one.
async fn recv(socket: &mut Option<StreamReceiver>) -> Result<Publication, ConnectionError> {
    match socket {
        Some(socket) => socket.recv().await,
        None => std::future::pending().await,
    }
}
