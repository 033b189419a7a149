//! The merged stats and event streams.
//!
//! ```text
//!  node stats PUB ──SUB──── forwarding thread (every node's stats SUB): ──PUB stats_endpoint
//!                            rewrite topic, splice "node", publish           (stat.<node>-<watcher>[.<pid>])
//!  node events PUB ─SUB──┐ feed task (one per node; opens and closes both SUBs):
//!                        │   rewrite topic, splice "node" ──┐
//!  link state changes ───┴─ cluster events ─────────────────┴─ publisher task ──PUB pubsub_endpoint
//!                                                     (watcher.<node>:<watcher>.<event>, cluster.<node>.<event>)
//! ```
//!
//! The merged PUBs are XPUBs: a feed holds its node's SUBs only while a subscriber's prefix
//! (or an in-process reader) wants them (`streams/interest.rs`).
//!
//! Stats, the bulk of the traffic (9 messages per node per second with two watchers of two
//! processes), never wake a tokio task: one thread reads every node's stats SUB and publishes
//! (`streams/forwarding.rs`, `clusterd_protocol::connection::forward`); when it falls behind,
//! the SUBs' small queues fill and the nodes' PUBs drop, as for any slow Circus subscriber.
//! Events go from the feed tasks to the publisher task over a queue bounded in messages
//! ([`QUEUE`]) and bytes ([`QUEUE_BYTES`]). When it is full (the master cannot keep up) the
//! message is dropped and counted against its node: drops are visible in `nodes` and `dstats`
//! instead of turning into unbounded memory. A message larger
//! than `max_stream_message_size` is dropped on arrival (counted as `oversized`), one that is
//! not Circus-shaped (frames, topic, payload not a valid JSON object) too (`malformed`).
//! Subscribers that read too slowly lose messages in libzmq once their queue is full, like with
//! any Circus PUB; the queue's limit follows the sizes published (`streams/queue_limit.rs`):
//! 20,000 messages while they are small, fewer once large ones go out, so that a subscriber that
//! stopped reading costs at most about twice [`SUBSCRIBER_QUEUE_BYTES`].
//!
//! The in-process tap (`streams/tap.rs`) gets every event and, per node, one stats cycle every
//! 2 s (`streams/sample.rs`), and nothing at all while nobody reads it.

mod feed;
mod forwarding;
pub mod interest;
mod publisher;
pub mod queue_limit;
pub mod rewrite;
pub mod room;
mod sample;
mod tap;

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use clusterd_protocol::connection::forward::Forwarder;
use clusterd_protocol::connection::stream::StreamSender;
use clusterd_protocol::connection::{ConnectionError, Context};
use clusterd_protocol::message::now;
use clusterd_protocol::Endpoint;
use serde_json::{json, Map, Value};
use tokio::sync::watch;
use tracing::debug;

pub use feed::FeedHandle;
use interest::{Demand, Interest};
use publisher::{Merged, Message, Out, Queue, Refused};
pub use tap::{Tap, TapKind, TapMessage, TapReceiver, TAP_CAPACITY};

/// What a subscriber that stopped reading may cost the master, counted in messages of the
/// size they have (twice this at most: see `streams/queue_limit.rs`).
pub const SUBSCRIBER_QUEUE_BYTES: usize = 64 * 1024 * 1024;
/// Queue from the node feeds to the publisher, in events (the nodes' and the master's own).
const QUEUE: usize = 65_536;
/// Queue from the node feeds to the publisher, in bytes.
pub const QUEUE_BYTES: usize = 64 * 1024 * 1024;

/// Stream counters, per node and for the whole master.
#[derive(Debug, Default)]
pub struct Counters {
    /// The node's stats stream is subscribed to now (per node only).
    pub stats_subscribed: AtomicBool,
    /// The node's event stream is subscribed to now (per node only).
    pub events_subscribed: AtomicBool,
    /// Stats messages republished.
    pub stats_forwarded: AtomicU64,
    /// Events republished.
    pub events_forwarded: AtomicU64,
    /// Events lost because the publisher queue was full (stats wait in libzmq's queues instead).
    pub dropped: AtomicU64,
    /// Messages refused because they were not Circus-shaped (frames, topic, or a payload that
    /// is not a valid UTF-8 JSON object).
    pub malformed: AtomicU64,
    /// Messages refused because they were larger than `max_stream_message_size`.
    pub oversized: AtomicU64,
    /// Why the node's wanted streams are not held now (the descriptor budget had no room:
    /// `streams/room.rs`); per node only.
    pub error: Mutex<Option<String>>,
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

    /// A node's counters as reported in `nodes`, with `subscribed`: the node's streams the master
    /// holds a connection to now (`"stats"`, `"events"`; none while nobody wants them), and
    /// `error`: why wanted streams are not held (null when nothing is refused).
    pub fn describe_node(&self) -> Value {
        let mut described = self.describe();
        let held = [("stats", &self.stats_subscribed), ("events", &self.events_subscribed)];
        let subscribed: Vec<&str> =
            held.iter().filter(|(_, flag)| flag.load(Ordering::Relaxed)).map(|(name, _)| *name).collect();
        described["subscribed"] = json!(subscribed);
        described["error"] = json!(*self.error.lock().expect("error lock"));
        described
    }
}

/// Handle on the merged streams; cheap to clone.
#[derive(Clone)]
pub struct Streams {
    ctx: Context,
    /// The contexts of the stats path (its XPUB and every node's stats SUB): their own libzmq
    /// I/O thread(s), as the relay has, instead of a share of every context's.
    stats_ctx: Context,
    out: Queue,
    stats: Forwarder<forwarding::Tag>,
    totals: Arc<Counters>,
    next_index: Arc<AtomicU32>,
    max_message: usize,
    tap: Tap,
    interest: Arc<watch::Sender<Interest>>,
    room: Arc<room::Room>,
}

impl Streams {
    /// Binds both PUB sockets, starts the stats forwarding thread and the publisher task; node
    /// messages larger than `max_message` bytes (topic and payload) are dropped.
    ///
    /// # Errors
    /// An endpoint cannot be bound, or the thread cannot start.
    pub fn start(
        ctx: &Context,
        stats: &Endpoint,
        events: &Endpoint,
        max_message: usize,
    ) -> Result<Streams, ConnectionError> {
        let stats_ctx = Context::new();
        let stats_out = StreamSender::bind(ctx, stats.as_str(), queue_limit::QueueLimit::new(max_message).current())?;
        let events = Merged::bind(ctx, events.as_str(), max_message)?;
        let (out, rx) = publisher::queue(QUEUE, QUEUE_BYTES);
        let tap = Tap::default();
        let interest = Arc::new(watch::channel(Interest::default()).0);
        let totals = Arc::<Counters>::default();
        let path = forwarding::StatsPath::new(totals.clone(), tap.clone(), interest.clone(), max_message);
        let stats = Forwarder::start("stats-forwarding", stats_out, path, max_message).map_err(|err| {
            ConnectionError::OutOfDescriptors(format!("cannot start the stats forwarding thread: {err}"))
        })?;
        tokio::spawn(publisher::run(events, rx, tap.clone(), interest.clone()));
        let next_index = Arc::new(AtomicU32::new(1));
        let room = room::Room::new();
        Ok(Streams { ctx: ctx.clone(), stats_ctx, out, stats, totals, next_index, max_message, tap, interest, room })
    }

    /// An in-process reader of every merged event and a sample of the stats, with their node
    /// (the dashboard and placement read through it; see `streams/tap.rs`). While it lives, every
    /// node's streams are wanted (`streams/interest.rs`).
    pub fn subscribe(&self) -> TapReceiver {
        self.tap.subscribe(Demand::new(&self.interest))
    }

    /// The tap itself (for its drop counter).
    pub fn tap(&self) -> &Tap {
        &self.tap
    }

    /// The stream feeds counted against the descriptor budget.
    pub fn room(&self) -> &room::Room {
        &self.room
    }

    /// The master-wide counters.
    pub fn totals(&self) -> &Counters {
        &self.totals
    }

    /// Starts feeding `node`'s streams into the merged ones; dropping the handle stops it. The
    /// feed resubscribes whenever `pubsub` (the node's event endpoint) or `restarts` changes, and
    /// opens its SUBs only when they are wanted and the descriptor budget has room
    /// (`streams/room.rs`).
    pub fn attach(
        &self,
        node: &str,
        stats: watch::Receiver<Option<Endpoint>>,
        pubsub: watch::Receiver<Option<Endpoint>>,
        restarts: watch::Receiver<u64>,
        counters: Arc<Counters>,
    ) -> FeedHandle {
        let index = self.next_index.fetch_add(1, Ordering::Relaxed);
        let node: Arc<str> = Arc::from(node);
        let interest = room::gate(node.clone(), self.interest.subscribe(), &self.room, counters.clone());
        feed::spawn(feed::Feed {
            ctx: self.ctx.clone(),
            stats_ctx: self.stats_ctx.clone(),
            node,
            index,
            out: self.out.clone(),
            forwarder: self.stats.clone(),
            interest,
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
        let message = Message { node: Arc::from(node), topic, payload, tap: true };
        if let Err(Refused::Full) = self.out.try_send(Out::Event(message)) {
            self.totals.dropped.fetch_add(1, Ordering::Relaxed);
            debug!(node, event, "cluster event dropped: publisher queue full");
        }
    }
}
