//! The stats path: what the forwarding thread (`clusterd_protocol::connection::forward`) does
//! with each stats message of every node, on that thread: checks and rewrites it
//! (`streams/rewrite.rs`), publishes it on the merged stats XPUB (queue limit following the sizes,
//! `streams/queue_limit.rs`), offers a sample to the tap, keeps the merged `stat.sockets` total,
//! counts, and tells the feeds which prefixes the subscribers hold (`streams/interest.rs`).
//! No tokio task is woken per message, and the rewritten payload is the only copy made.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clusterd_protocol::connection::forward::{Handler, Publication};
use clusterd_protocol::connection::stream::StreamSender;
use tokio::sync::watch;
use tracing::{debug, warn};

use super::interest::Interest;
use super::queue_limit::QueueLimit;
use super::rewrite::{self, merged_sockets_total, SocketsTotal, Stat};
use super::sample::Sampler;
use super::tap::{Tap, TapKind};
use super::Counters;

/// A node's socket total older than this (circusd-stats publishes every second) is left out of
/// the merged total: the node is down or its circusd-stats stopped.
const SOCKETS_TOTAL_TTL: Duration = Duration::from_secs(5);

/// One of the [`Counters`].
type Counter = fn(&Counters) -> &AtomicU64;

/// Which node a stats source belongs to.
pub struct Tag {
    /// The node.
    pub node: Arc<str>,
    /// Which attachment of the node (socket subtopics; a replaced node gets a new one).
    pub index: u32,
    /// The node's counters.
    pub counters: Arc<Counters>,
}

/// One source being read, with what its current turn counted.
struct Source {
    tag: Tag,
    sampler: Sampler,
    forwarded: u64,
    malformed: u64,
    oversized: u64,
}

/// The handler of the stats forwarding thread.
pub struct StatsPath {
    sources: HashMap<u64, Source>,
    totals: Arc<Counters>,
    tap: Tap,
    interest: Arc<watch::Sender<Interest>>,
    limit: QueueLimit,
    /// Each node's last socket total, by node name.
    socket_totals: HashMap<Arc<str>, (Instant, SocketsTotal)>,
    /// The clock read once per turn, and only while the tap has readers.
    now: Option<Instant>,
}

impl StatsPath {
    /// The handler for messages of at most `max_message` bytes.
    pub fn new(totals: Arc<Counters>, tap: Tap, interest: Arc<watch::Sender<Interest>>, max_message: usize) -> Self {
        StatsPath {
            sources: HashMap::new(),
            totals,
            tap,
            interest,
            limit: QueueLimit::new(max_message),
            socket_totals: HashMap::new(),
            now: None,
        }
    }

    /// Publishes `[topic, payload]`, first moving the subscribers' queue limit if its size asks
    /// for it.
    fn publish(&mut self, out: &StreamSender, topic: &[u8], payload: Vec<u8>) -> bool {
        if let Err(err) = self.limit.before_publish(out, topic.len() + payload.len()) {
            warn!(cause = %err, "cannot set the subscribers' queue limit");
        }
        match out.send_built(topic, payload) {
            Ok(()) => true,
            Err(err) => {
                warn!(cause = %err, "publish failed");
                false
            }
        }
    }

    /// The merged `stat.sockets` with `node`'s new total.
    fn sockets_total(&mut self, node: &Arc<str>, total: SocketsTotal) -> Vec<u8> {
        let now = Instant::now();
        self.socket_totals.insert(node.clone(), (now, total));
        self.socket_totals.retain(|_, (at, _)| now.duration_since(*at) < SOCKETS_TOTAL_TTL);
        merged_sockets_total(self.socket_totals.values().map(|(_, total)| total))
    }
}

impl Handler for StatsPath {
    type Tag = Tag;

    fn attached(&mut self, id: u64, tag: Tag) {
        let source = Source { tag, sampler: Sampler::default(), forwarded: 0, malformed: 0, oversized: 0 };
        self.sources.insert(id, source);
    }

    fn detached(&mut self, id: u64) {
        if let Some(source) = self.sources.remove(&id) {
            // The node's total leaves the merged one, unless another attachment of the node
            // (resubscribed after a restart) goes on.
            let node = &source.tag.node;
            if !self.sources.values().any(|other| other.tag.node == *node) {
                self.socket_totals.remove(node);
            }
        }
    }

    fn publication(&mut self, id: u64, p: &Publication<'_>, out: &StreamSender) {
        let Some(source) = self.sources.get_mut(&id) else { return };
        if p.oversized {
            debug!(node = %source.tag.node, frames = p.frames, "dropped an oversized publication");
            source.oversized += 1;
            return;
        }
        let node = source.tag.node.clone();
        let tapped = self.tap.has_readers() && source.sampler.take(p.topic, *self.now.get_or_insert_with(Instant::now));
        let rewritten = match (p.frames, rewrite::classify_stat(&node, p.topic)) {
            (2, Some(Stat::Forward(topic))) => rewrite::splice_node(p.payload, &node).map(|payload| (topic, payload)),
            (2, Some(Stat::Socket(fd))) => rewrite::socket_stat(&node, source.tag.index, fd, p.payload),
            (2, Some(Stat::SocketsTotal)) => match rewrite::sockets_total(&node, p.payload) {
                Some(total) => {
                    source.forwarded += 1;
                    let merged = self.sockets_total(&node, total);
                    self.publish(out, b"stat.sockets", merged);
                    return;
                }
                None => None,
            },
            _ => None,
        };
        let Some((topic, payload)) = rewritten else {
            // The topic is logged escaped (`{:?}`): it is the node's bytes, maybe control
            // characters.
            let topic = String::from_utf8_lossy(p.topic);
            debug!(node = %node, topic = ?topic, frames = p.frames, "refused a malformed publication");
            source.malformed += 1;
            return;
        };
        source.forwarded += 1;
        let copy = tapped.then(|| payload.clone());
        self.publish(out, &topic, payload);
        if let Some(payload) = copy {
            self.tap.offer(TapKind::Stat, Some(node), topic, payload);
        }
    }

    fn turn_done(&mut self, id: u64) {
        self.now = None;
        let Some(source) = self.sources.get_mut(&id) else { return };
        let counted: [(u64, Counter); 3] = [
            (std::mem::take(&mut source.forwarded), |c| &c.stats_forwarded),
            (std::mem::take(&mut source.malformed), |c| &c.malformed),
            (std::mem::take(&mut source.oversized), |c| &c.oversized),
        ];
        for (count, counter) in counted.into_iter().filter(|(count, _)| *count > 0) {
            counter(&source.tag.counters).fetch_add(count, Ordering::Relaxed);
            counter(&self.totals).fetch_add(count, Ordering::Relaxed);
        }
    }

    fn subscriptions(&mut self, prefixes: &BTreeSet<Vec<u8>>) {
        debug!(stats = prefixes.len(), "stats subscriptions changed");
        self.interest.send_modify(|i| i.stats.clone_from(prefixes));
    }
}
