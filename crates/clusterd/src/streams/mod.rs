//! The merged stats and event streams.
//!
//! ```text
//!  node stats PUB ──SUB──┐                                   ┌──PUB stats_endpoint  (stat.<node>-<watcher>[.<pid>])
//!  node events PUB ─SUB──┤ feed task (one per node):         │
//!                        │   rewrite topic, splice "node" ───┤ publisher task (owns both PUBs)
//!  link state changes ───┴─ cluster events ──────────────────┘──PUB pubsub_endpoint (watcher.<node>:<watcher>.<event>,
//!                                                                                   cluster.<node>.<event>)
//! ```
//!
//! Feeds run in parallel, one task per node, and hand rewritten messages to the publisher over
//! a bounded queue. When the queue is full (the master cannot keep up) the message is dropped
//! and counted against its node: drops are visible in `nodes` and `dstats` instead of turning
//! into unbounded memory. Subscribers that read too slowly lose messages in libzmq once their
//! queue holds [`STATS_SNDHWM`] (or [`EVENTS_SNDHWM`]) messages, like with any Circus PUB.

mod feed;
mod publisher;
pub mod rewrite;
mod tap;

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use clusterd_protocol::connection::stream::StreamSender;
use clusterd_protocol::connection::{ConnectionError, Context};
use clusterd_protocol::message::now;
use clusterd_protocol::Endpoint;
use serde_json::{json, Map, Value};
use tokio::sync::{mpsc, watch};
use tracing::debug;

pub use feed::FeedHandle;
use publisher::Out;
pub use tap::{Tap, TapKind, TapMessage, TapReceiver, TAP_CAPACITY};

/// Per-subscriber queue of the merged stats PUB: about 20 s of a 1,000-message/s cluster
/// (some 9 MiB for a subscriber that stopped reading); a viewer that far behind needs fresh
/// numbers, not old ones.
pub const STATS_SNDHWM: i32 = 20_000;
/// Per-subscriber queue of the merged event PUB.
pub const EVENTS_SNDHWM: i32 = 20_000;
/// Queue from the node feeds to the publisher.
const QUEUE: usize = 65_536;

/// Stream counters, per node and for the whole master.
#[derive(Debug, Default)]
pub struct Counters {
    /// Stats messages republished.
    pub stats_forwarded: AtomicU64,
    /// Events republished.
    pub events_forwarded: AtomicU64,
    /// Messages lost because the publisher queue was full.
    pub dropped: AtomicU64,
    /// Messages refused because they were not Circus-shaped (frames, topic or payload).
    pub malformed: AtomicU64,
}

impl Counters {
    /// The counters as reported in `nodes` and `dstats`.
    pub fn describe(&self) -> Value {
        json!({
            "stats_forwarded": self.stats_forwarded.load(Ordering::Relaxed),
            "events_forwarded": self.events_forwarded.load(Ordering::Relaxed),
            "dropped": self.dropped.load(Ordering::Relaxed),
            "malformed": self.malformed.load(Ordering::Relaxed),
        })
    }
}

/// Handle on the merged streams; cheap to clone.
#[derive(Clone)]
pub struct Streams {
    ctx: Context,
    out: mpsc::Sender<Out>,
    totals: Arc<Counters>,
    next_index: Arc<AtomicU32>,
    tap: Tap,
}

impl Streams {
    /// Binds both PUB sockets and starts the publisher task.
    ///
    /// # Errors
    /// An endpoint cannot be bound.
    pub fn start(ctx: &Context, stats: &Endpoint, events: &Endpoint) -> Result<Streams, ConnectionError> {
        let stats = StreamSender::bind(ctx, stats.as_str(), STATS_SNDHWM)?;
        let events = StreamSender::bind(ctx, events.as_str(), EVENTS_SNDHWM)?;
        let (out, rx) = mpsc::channel(QUEUE);
        let tap = Tap::default();
        tokio::spawn(publisher::run(stats, events, rx, tap.clone()));
        Ok(Streams { ctx: ctx.clone(), out, totals: Arc::default(), next_index: Arc::new(AtomicU32::new(1)), tap })
    }

    /// An in-process reader of every merged stats and event message, with its node (the
    /// dashboard and `/metrics` read through it; see `streams/tap.rs`).
    pub fn subscribe(&self) -> TapReceiver {
        self.tap.subscribe()
    }

    /// The tap itself (for its drop counter).
    pub fn tap(&self) -> &Tap {
        &self.tap
    }

    /// The master-wide counters.
    pub fn totals(&self) -> &Counters {
        &self.totals
    }

    /// Starts feeding `node`'s streams into the merged ones; dropping the handle stops it. The
    /// feed resubscribes whenever `pubsub` (the node's event endpoint) or `restarts` changes.
    pub fn attach(
        &self,
        node: &str,
        stats: Option<Endpoint>,
        pubsub: watch::Receiver<Option<Endpoint>>,
        restarts: watch::Receiver<u64>,
        counters: Arc<Counters>,
    ) -> FeedHandle {
        let index = self.next_index.fetch_add(1, Ordering::Relaxed);
        feed::spawn(feed::Feed {
            ctx: self.ctx.clone(),
            node: Arc::from(node),
            index,
            out: self.out.clone(),
            counters,
            totals: self.totals.clone(),
            stats,
            pubsub,
            restarts,
        })
    }

    /// Publishes the master's own event `cluster.<node>.<event>` with `fields` plus `node` and
    /// `time`.
    pub fn cluster_event(&self, node: &str, event: &str, fields: Map<String, Value>) {
        let mut payload = Map::new();
        payload.insert("node".into(), node.into());
        payload.insert("time".into(), now().into());
        payload.extend(fields);
        let topic = format!("cluster.{node}.{event}").into_bytes();
        let payload = clusterd_protocol::pyjson::dumps_map(&payload).into_bytes();
        if self.out.try_send(Out::Event(topic, payload)).is_err() {
            self.totals.dropped.fetch_add(1, Ordering::Relaxed);
            debug!(node, event, "cluster event dropped: publisher queue full");
        }
    }
}
