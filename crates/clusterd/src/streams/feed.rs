//! A node's feed: SUB sockets on the node's stats and event streams, held only while someone
//! wants them (`streams/interest.rs`). It rewrites the events itself; its stats SUB is handed to
//! the forwarding thread (`streams/forwarding.rs`), which reads and rewrites every node's stats.

mod connect;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use clusterd_protocol::connection::forward::Forwarder;
use clusterd_protocol::connection::stream::{Publication, StreamReceiver};
use clusterd_protocol::connection::{ConnectionError, Context};
use clusterd_protocol::Endpoint;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::debug;

use super::forwarding::Tag;
use super::interest::Interest;
use super::publisher::{Message, Out, Queue, Refused};
use super::rewrite;
use super::Counters;

/// How long a stream nobody wants any more stays subscribed (a viewer that restarts, or
/// changes its prefix, does not make the master reconnect).
pub const LINGER: std::time::Duration = std::time::Duration::from_secs(3);

/// Everything a feed task needs.
pub struct Feed {
    pub ctx: Context,
    /// Where the stats SUB is opened (the stats path's own contexts).
    pub stats_ctx: Context,
    pub node: Arc<str>,
    pub index: u32,
    pub out: Queue,
    /// The stats forwarding thread, which reads the node's stats SUB while the feed holds it.
    pub forwarder: Forwarder<Tag>,
    /// What the subscribers want (`streams/interest.rs`): the SUBs are held only while wanted.
    pub interest: watch::Receiver<Interest>,
    pub counters: Arc<Counters>,
    pub totals: Arc<Counters>,
    pub stats: watch::Receiver<Option<Endpoint>>,
    pub pubsub: watch::Receiver<Option<Endpoint>>,
    pub restarts: watch::Receiver<u64>,
    /// Messages larger than this (topic and payload) are dropped and counted `oversized`.
    pub max_message: usize,
}

/// Stops the feed when dropped (its stats SUB leaves the forwarding thread with it).
pub struct FeedHandle {
    task: JoinHandle<()>,
}

impl Drop for FeedHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the feed task.
pub fn spawn(feed: Feed) -> FeedHandle {
    FeedHandle { task: tokio::spawn(feed.run()) }
}

impl Feed {
    async fn run(mut self) {
        let mut wanted = self.interest.borrow_and_update().of(&self.node);
        let mut stats = self.connect_stats(wanted).await;
        let mut events = self.connect_events(wanted).await;
        self.show(&stats, &events);
        // When streams nobody wants any more are closed (a subscriber that comes back within
        // LINGER finds them open).
        let mut release: Option<tokio::time::Instant> = None;
        loop {
            // libzmq sockets are outside tokio's cooperative budget: under a flood the next
            // message is always ready, and without this a few busy feeds would hold the worker
            // threads and starve the publisher.
            tokio::task::consume_budget().await;
            tokio::select! {
                // A batch is handled in one go: the select's other branches (watch channels)
                // cost a registration each time round, too much to pay per message.
                publication = recv(&mut events) => match publication {
                    Ok(p) => {
                        self.on_event(p);
                        while let Some(p) = events.as_mut().and_then(StreamReceiver::take_ready) {
                            self.on_event(p);
                        }
                    }
                    Err(err) => self.pause(err).await,
                },
                changed = self.interest.changed() => {
                    if changed.is_err() {
                        return; // the master is stopping
                    }
                    wanted = self.interest.borrow_and_update().of(&self.node);
                    if wanted.stats && stats.is_none() {
                        stats = self.connect_stats(wanted).await;
                    }
                    if wanted.events && events.is_none() {
                        events = self.connect_events(wanted).await;
                    }
                    let unwanted = (!wanted.stats && stats.is_some()) || (!wanted.events && events.is_some());
                    release = unwanted.then(|| release.unwrap_or_else(|| tokio::time::Instant::now() + LINGER));
                }
                () = tokio::time::sleep_until(release.unwrap_or_else(tokio::time::Instant::now)), if release.is_some() => {
                    release = None;
                    if !wanted.stats {
                        stats = None;
                    }
                    if !wanted.events {
                        events = None;
                    }
                    debug!(node = %self.node, ?wanted, "closed the node's streams nobody wants");
                }
                changed = self.stats.changed() => {
                    if changed.is_err() {
                        return; // the node is gone
                    }
                    self.stats.borrow_and_update();
                    stats = self.connect_stats(wanted).await;
                }
                changed = self.pubsub.changed() => {
                    if changed.is_err() {
                        return; // the node is gone
                    }
                    self.pubsub.borrow_and_update();
                    events = self.connect_events(wanted).await;
                }
                changed = self.restarts.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    // A new circusd: fresh subscriptions, so nothing queued from the old one
                    // is republished.
                    debug!(node = %self.node, "node restarted: resubscribing");
                    stats = self.connect_stats(wanted).await;
                    events = self.connect_events(wanted).await;
                }
            }
            self.show(&stats, &events);
        }
    }

    fn on_event(&self, p: Publication) {
        if p.oversized {
            return self.count_oversized(&p);
        }
        let node = &*self.node;
        let out = match (p.frames, rewrite::event_topic(node, &p.topic)) {
            (2, Some(topic)) => rewrite::splice_node(&p.payload, node)
                .map(|payload| Out::Event(Message { node: self.node.clone(), topic, payload, tap: true })),
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
