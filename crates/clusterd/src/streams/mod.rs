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
//! a queue bounded in messages ([`QUEUE`]) and bytes ([`QUEUE_BYTES`]). When it is full (the
//! master cannot keep up) the message is dropped and counted against its node: drops are
//! visible in `nodes` and `dstats` instead of turning into unbounded memory. A message larger
//! than `max_stream_message_size` is dropped on arrival (counted as `oversized`), one that is
//! not Circus-shaped (frames, topic, payload not a valid JSON object) too (`malformed`).
//! Subscribers that read too slowly lose messages in libzmq once their queue holds
//! [`subscriber_hwm`] messages, like with any Circus PUB: at most [`SUBSCRIBER_QUEUE_BYTES`] of
//! messages of the largest size.

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
use tokio::sync::watch;
use tracing::debug;

pub use feed::FeedHandle;
use publisher::{Out, Queue, Refused};
pub use tap::{Tap, TapKind, TapMessage, TapReceiver, TAP_CAPACITY};

/// Most messages queued for one subscriber of a merged PUB: about 20 s of a
/// 1,000-message/s cluster; a viewer that far behind needs fresh numbers, not old ones.
pub const MAX_SNDHWM: i32 = 20_000;
/// Fewest messages queued for one subscriber (libzmq's and so Circus's own default is 1,000).
pub const MIN_SNDHWM: i32 = 1_000;
/// What a subscriber that stopped reading may cost the master, counted in messages of the
/// largest size allowed: libzmq bounds its queues in messages only.
pub const SUBSCRIBER_QUEUE_BYTES: usize = 64 * 1024 * 1024;
/// Queue from the node feeds to the publisher, in messages.
const QUEUE: usize = 65_536;
/// Queue from the node feeds to the publisher, in bytes.
pub const QUEUE_BYTES: usize = 64 * 1024 * 1024;

/// The per-subscriber queue (SNDHWM) of the merged PUBs for messages of at most
/// `max_message` bytes: [`SUBSCRIBER_QUEUE_BYTES`] worth of them, between [`MIN_SNDHWM`] and
/// [`MAX_SNDHWM`] (1,024 with the default 64 KiB).
pub fn subscriber_hwm(max_message: usize) -> i32 {
    let fit = SUBSCRIBER_QUEUE_BYTES / max_message.max(1);
    i32::try_from(fit).unwrap_or(MAX_SNDHWM).clamp(MIN_SNDHWM, MAX_SNDHWM)
}

/// Stream counters, per node and for the whole master.
#[derive(Debug, Default)]
pub struct Counters {
    /// Stats messages republished.
    pub stats_forwarded: AtomicU64,
    /// Events republished.
    pub events_forwarded: AtomicU64,
    /// Messages lost because the publisher queue was full.
    pub dropped: AtomicU64,
    /// Messages refused because they were not Circus-shaped (frames, topic, or a payload that
    /// is not a valid UTF-8 JSON object).
    pub malformed: AtomicU64,
    /// Messages refused because they were larger than `max_stream_message_size`.
    pub oversized: AtomicU64,
}

impl Counters {
    /// The counters as reported in `nodes` and `dstats`.
    pub fn describe(&self) -> Value {
        json!({
            "stats_forwarded": self.stats_forwarded.load(Ordering::Relaxed),
            "events_forwarded": self.events_forwarded.load(Ordering::Relaxed),
            "dropped": self.dropped.load(Ordering::Relaxed),
            "malformed": self.malformed.load(Ordering::Relaxed),
            "oversized": self.oversized.load(Ordering::Relaxed),
        })
    }
}

/// Handle on the merged streams; cheap to clone.
#[derive(Clone)]
pub struct Streams {
    ctx: Context,
    out: Queue,
    totals: Arc<Counters>,
    next_index: Arc<AtomicU32>,
    max_message: usize,
    tap: Tap,
}

impl Streams {
    /// Binds both PUB sockets and starts the publisher task; node messages larger than
    /// `max_message` bytes (topic and payload) are dropped.
    ///
    /// # Errors
    /// An endpoint cannot be bound.
    pub fn start(
        ctx: &Context,
        stats: &Endpoint,
        events: &Endpoint,
        max_message: usize,
    ) -> Result<Streams, ConnectionError> {
        let hwm = subscriber_hwm(max_message);
        let stats = StreamSender::bind(ctx, stats.as_str(), hwm)?;
        let events = StreamSender::bind(ctx, events.as_str(), hwm)?;
        let (out, rx) = publisher::queue(QUEUE, QUEUE_BYTES);
        let tap = Tap::default();
        tokio::spawn(publisher::run(stats, events, rx, tap.clone()));
        let next_index = Arc::new(AtomicU32::new(1));
        Ok(Streams { ctx: ctx.clone(), out, totals: Arc::default(), next_index, max_message, tap })
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
        stats: watch::Receiver<Option<Endpoint>>,
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
            max_message: self.max_message,
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
        if let Err(Refused::Full) = self.out.try_send(Out::Event(topic, payload)) {
            self.totals.dropped.fetch_add(1, Ordering::Relaxed);
            debug!(node, event, "cluster event dropped: publisher queue full");
        }
    }
}
