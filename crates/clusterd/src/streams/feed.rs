//! A node's feed: SUB sockets on the node's stats and event streams, held only while someone
//! wants them (`streams/interest.rs`), rewriting each publication for the merged streams.

mod connect;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use clusterd_protocol::connection::stream::{Publication, StreamReceiver};
use clusterd_protocol::connection::{ConnectionError, Context};
use clusterd_protocol::Endpoint;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::debug;

use super::interest::Interest;
use super::publisher::{Message, Out, Queue, Refused};
use super::rewrite::{self, Stat};
use super::sample::Sampler;
use super::{Counters, Tap};

/// How long a stream nobody wants any more stays subscribed (a viewer that restarts, or
/// changes its prefix, does not make the master reconnect).
pub const LINGER: std::time::Duration = std::time::Duration::from_secs(3);

/// Everything a feed task needs.
pub struct Feed {
    pub ctx: Context,
    pub node: Arc<str>,
    pub index: u32,
    pub out: Queue,
    /// The in-process tap: gets a sample of the node's stats while somebody reads it.
    pub tap: Tap,
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
        let mut wanted = self.interest.borrow_and_update().of(&self.node);
        let mut stats = self.connect_stats(wanted).await;
        let mut events = self.connect_events(wanted).await;
        self.show(&stats, &events);
        let mut sampler = Sampler::default();
        // When streams nobody wants any more are closed (a subscriber that comes back within
        // LINGER finds them open).
        let mut release: Option<tokio::time::Instant> = None;
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
                        // Nothing sampled (not even the clock read) while nobody reads the tap.
                        let mut sample = self.tap.has_readers().then(|| (&mut sampler, Instant::now()));
                        let mut batch = Vec::new();
                        self.on_stat(p, &mut sample, &mut batch);
                        while let Some(p) = stats.as_mut().and_then(StreamReceiver::take_ready) {
                            self.on_stat(p, &mut sample, &mut batch);
                        }
                        self.hand_over_stats(batch);
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

    /// Handles one stats publication, adding it rewritten to `batch`; `sample` (the node's
    /// sampler and the batch's arrival time, while the tap has readers) says whether it also goes
    /// to the tap.
    fn on_stat(&self, p: Publication, sample: &mut Option<(&mut Sampler, Instant)>, batch: &mut Vec<Message>) {
        if p.oversized {
            return self.count_oversized(&p);
        }
        let node = &*self.node;
        let tap = sample.as_mut().is_some_and(|(sampler, now)| sampler.take(&p.topic, *now));
        let message = |(topic, payload)| Message { node: self.node.clone(), topic, payload, tap };
        let rewritten = match (p.frames, rewrite::classify_stat(node, &p.topic)) {
            (2, Some(Stat::Forward(topic))) => {
                rewrite::splice_node(&p.payload, node).map(|payload| message((topic, payload)))
            }
            (2, Some(Stat::Socket(fd))) => rewrite::socket_stat(node, self.index, fd, &p.payload).map(message),
            (2, Some(Stat::SocketsTotal)) => {
                let out = rewrite::sockets_total(node, &p.payload).map(|total| Out::SocketsTotal {
                    node: self.node.clone(),
                    index: self.index,
                    total,
                });
                return self.hand_over(out, &p, |c| &c.stats_forwarded);
            }
            _ => None,
        };
        match rewritten {
            Some(message) => batch.push(message),
            None => self.hand_over(None, &p, |c| &c.stats_forwarded),
        }
    }

    /// Queues a batch of rewritten stats for the publisher in one hand-over (one queue slot, one
    /// wake-up, one count), and counts the outcome on the node and the master.
    fn hand_over_stats(&self, batch: Vec<Message>) {
        let count = batch.len() as u64;
        if count == 0 {
            return;
        }
        let counter: fn(&Counters) -> &std::sync::atomic::AtomicU64 = match self.out.try_send(Out::Stats(batch)) {
            Ok(()) => |c| &c.stats_forwarded,
            Err(Refused::Full) => |c| &c.dropped,
            Err(Refused::Closed) => return,
        };
        counter(&self.counters).fetch_add(count, Ordering::Relaxed);
        counter(&self.totals).fetch_add(count, Ordering::Relaxed);
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
