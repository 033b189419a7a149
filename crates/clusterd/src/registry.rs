//! The node registry: every node the master knows, with its link, its stream feed and where
//! it came from.
//!
//! The map sits behind a `std::sync::RwLock` (not a tokio lock): it is only held to look up,
//! insert or remove an `Arc<Node>`, never across an `.await`. A node's link task and feed task
//! stop when its last `Arc<Node>` is dropped (removal, or replacement by a new registration).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use clusterd_protocol::connection::{budget, ConnectionError, Context};
use serde_json::Map;
use tokio::sync::{watch, Notify};

use crate::config::NodeSpec;
use crate::link::{Health, Link, LinkEvent, Tuning};
use crate::streams::{Counters, Streams};

#[cfg(test)]
mod closed_tests;
mod node;

pub use node::{Node, Source};

/// How nodes are probed: the configured heartbeat and `down_after`, and the cap on probes per
/// second that may stretch the heartbeat when there are many nodes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProbePolicy {
    /// Configured probe interval.
    pub heartbeat: Duration,
    /// Missed probes before `down`.
    pub down_after: u32,
    /// Cap on probes per second over all nodes.
    pub max_probes_per_sec: u32,
}

/// A change of a registered or discovered node, handed to the shared registry
/// ([`Registry::set_mirror`]) so that the other masters learn it.
#[derive(Debug, Clone)]
pub enum Mirrored {
    /// Added or replaced.
    Put(NodeSpec, Source),
    /// Removed (`unregister_node`, a rename), or forgotten after `forget_after` when `forgotten`.
    Delete { name: String, forgotten: bool },
}

/// Where [`Mirrored`] changes go.
pub type Mirror = Box<dyn Fn(Mirrored) + Send + Sync>;

/// All known nodes, by name.
pub struct Registry {
    /// The shared registry's writer (`registry = "etcd"`); unset with the state file.
    mirror: OnceLock<Mirror>,
    ctx: Context,
    tuning: Arc<Tuning>,
    policy: Mutex<ProbePolicy>,
    streams: Streams,
    nodes: RwLock<BTreeMap<String, Arc<Node>>>,
    /// Set by [`Registry::close_all`]: the empty map then says nothing about which nodes exist.
    closed: AtomicBool,
    changed: Arc<Notify>,
    /// Descriptors open before any node: the file-descriptor budget counts each node at its
    /// command cost from there, connected yet or not (stream feeds are counted when they start).
    base_fds: usize,
}

impl Registry {
    /// An empty registry whose links follow `policy` and whose nodes feed `streams`.
    pub fn new(ctx: Context, policy: ProbePolicy, streams: Streams) -> Self {
        // Its descriptors belong in the base, not in the first node's cost; when it cannot start
        // now, the first node's connect says why.
        if let Err(err) = ctx.start_node_links() {
            tracing::warn!(cause = %err, "the node links' thread did not start");
        }
        Registry {
            mirror: OnceLock::new(),
            ctx,
            tuning: Arc::new(Tuning::new(policy.heartbeat, policy.down_after)),
            policy: Mutex::new(policy),
            streams,
            nodes: RwLock::new(BTreeMap::new()),
            closed: AtomicBool::new(false),
            changed: Arc::new(Notify::new()),
            base_fds: budget::Usage::now().map_or(0, |usage| usage.open),
        }
    }

    /// Notified whenever a node is added or removed (the state file listens).
    pub fn changed(&self) -> Arc<Notify> {
        self.changed.clone()
    }

    /// Changes how nodes are probed (on reload); running links follow at their next probe.
    pub fn set_probe_policy(&self, policy: ProbePolicy) {
        *self.policy.lock().expect("policy lock") = policy;
        self.retune();
    }

    /// The probe interval now in force: the heartbeat, or longer with many nodes.
    pub fn probe_interval(&self) -> Duration {
        self.tuning.interval()
    }

    fn retune(&self) {
        let policy = *self.policy.lock().expect("policy lock");
        let nodes = self.nodes.read().expect("registry lock").len();
        self.tuning.retune(policy.heartbeat, policy.down_after, nodes, policy.max_probes_per_sec);
    }

    /// The ZeroMQ context every node socket is made in.
    pub fn zmq(&self) -> &Context {
        &self.ctx
    }

    /// The merged streams.
    pub fn streams(&self) -> &Streams {
        &self.streams
    }

    /// Sends every later change of a registered or discovered node to `mirror` (once, at
    /// start-up, with `registry = "etcd"`), except those made by [`Registry::apply_shared`].
    pub fn set_mirror(&self, mirror: Mirror) {
        let _ = self.mirror.set(mirror);
    }

    /// Adds or replaces a node; returns it and whether an entry of that name was replaced.
    /// Publishes `cluster.<node>.joined`, and later every state change of the node.
    ///
    /// # Errors
    /// libzmq refused the node's endpoint, or the file-descriptor budget has no room for a new
    /// node's sockets (a replacement reuses the old node's).
    pub fn insert(&self, spec: NodeSpec, source: Source) -> Result<(Arc<Node>, bool), ConnectionError> {
        let mirrored = (source != Source::Config).then(|| spec.clone());
        let inserted = self.insert_here(spec, source)?;
        if let (Some(spec), Some(mirror)) = (mirrored, self.mirror.get()) {
            mirror(Mirrored::Put(spec, source));
        }
        Ok(inserted)
    }

    /// Like [`Registry::insert`], for a change read from the shared registry: not mirrored
    /// back.
    ///
    /// # Errors
    /// As [`Registry::insert`].
    pub fn apply_shared(&self, spec: NodeSpec, source: Source) -> Result<(Arc<Node>, bool), ConnectionError> {
        self.insert_here(spec, source)
    }

    /// Removes a node that the shared registry no longer has; not mirrored back.
    pub fn remove_shared(&self, name: &str) -> Option<Arc<Node>> {
        self.remove_here(name, "left")
    }

    fn insert_here(&self, spec: NodeSpec, source: Source) -> Result<(Arc<Node>, bool), ConnectionError> {
        if !self.contains(&spec.name) {
            let nodes = self.nodes.read().expect("registry lock").len();
            // Node streams held now count beside the nodes' own descriptors (`streams/room.rs`).
            let held = self.base_fds + self.streams.room().stream_fds();
            budget::check_room_for_node(nodes, held).map_err(ConnectionError::OutOfDescriptors)?;
        }
        let streams = self.streams.clone();
        let name = spec.name.clone();
        // Restarts re-attach the node's streams: the feed reconnects when this changes.
        let (restarts, restarted) = watch::channel(0u64);
        let hook = Box::new(move |event: &LinkEvent, health: &Health| {
            let mut fields = Map::new();
            let event = match event {
                LinkEvent::State(state) => {
                    fields.insert("missed_probes".into(), health.missed.into());
                    fields.insert("last_seen".into(), health.last_seen.into());
                    state.as_str()
                }
                LinkEvent::Restarted { old_pid, new_pid } => {
                    fields.insert("old_pid".into(), (*old_pid).into());
                    fields.insert("new_pid".into(), (*new_pid).into());
                    restarts.send_modify(|n| *n += 1);
                    "restarted"
                }
            };
            streams.cluster_event(&name, event, fields);
        });
        let link = Link::spawn(&self.ctx, &spec.name, spec.endpoint.as_str(), self.tuning.clone(), hook)?;
        let counters = Arc::new(Counters::default());
        let (pubsub_endpoint, pubsub) = watch::channel(spec.pubsub_endpoint);
        let (stats_endpoint, stats) = watch::channel(spec.stats_endpoint);
        let feed = self.streams.attach(&spec.name, stats, pubsub, restarted, counters.clone());
        let node = Arc::new(Node {
            name: spec.name.clone(),
            endpoint: spec.endpoint,
            stats_endpoint,
            pubsub_endpoint,
            learnt: Mutex::new(Vec::new()),
            source,
            tags: spec.tags,
            link,
            counters,
            _feed: feed,
        });
        let replaced = self.write().insert(spec.name, node.clone()).is_some();
        self.retune();
        self.changed.notify_one();
        let mut fields = Map::new();
        fields.insert("endpoint".into(), node.endpoint.as_str().into());
        fields.insert("source".into(), source.as_str().into());
        fields.insert("replaced".into(), replaced.into());
        self.streams.cluster_event(&node.name, "joined", fields);
        Ok((node, replaced))
    }

    /// Removes a node and publishes `cluster.<node>.left`; its link and feed stop once no
    /// request holds it any more.
    pub fn remove(&self, name: &str) -> Option<Arc<Node>> {
        self.remove_as(name, "left")
    }

    /// Removes a node that stayed down for `forget_after`; publishes `cluster.<node>.forgotten`.
    pub fn forget(&self, name: &str) -> Option<Arc<Node>> {
        self.remove_as(name, "forgotten")
    }

    /// Closes every node's sockets (link and feed) at once, without events or a state-file
    /// write: the last act of a stopping master, before its own endpoints close. Node sockets
    /// first: a subscriber that disconnects while the master's PUB is being torn down in the
    /// middle of a multipart message trips a libzmq assertion (`session_base.cpp:260`,
    /// `clean_pipes` finding the rest of the message gone with the terminating pipe).
    pub fn close_all(&self) {
        let mut map = self.write();
        // Under the write lock: a reader of [`Registry::all_unless_closed`] sees either every
        // node or the closed mark, never an empty map taken for the truth.
        self.closed.store(true, Ordering::SeqCst);
        let nodes = std::mem::take(&mut *map);
        drop(map);
        drop(nodes);
    }

    fn remove_as(&self, name: &str, event: &str) -> Option<Arc<Node>> {
        let removed = self.remove_here(name, event);
        if let (Some(node), Some(mirror)) = (&removed, self.mirror.get()) {
            if node.source != Source::Config {
                mirror(Mirrored::Delete { name: name.to_string(), forgotten: event == "forgotten" });
            }
        }
        removed
    }

    fn remove_here(&self, name: &str, event: &str) -> Option<Arc<Node>> {
        let removed = self.write().remove(name);
        if removed.is_some() {
            self.retune();
            self.changed.notify_one();
            self.streams.cluster_event(name, event, Map::new());
        }
        removed
    }

    /// The node called `name`.
    pub fn get(&self, name: &str) -> Option<Arc<Node>> {
        self.nodes.read().expect("registry lock").get(name).cloned()
    }

    /// True when a node called `name` exists.
    pub fn contains(&self, name: &str) -> bool {
        self.nodes.read().expect("registry lock").contains_key(name)
    }

    /// Every node, sorted by name.
    pub fn all(&self) -> Vec<Arc<Node>> {
        self.nodes.read().expect("registry lock").values().cloned().collect()
    }

    /// Every node, or none once [`Registry::close_all`] has run (what the state file may be
    /// written from: a write that waited while the master stopped must not save an empty list).
    pub fn all_unless_closed(&self) -> Option<Vec<Arc<Node>>> {
        let map = self.nodes.read().expect("registry lock");
        (!self.closed.load(Ordering::SeqCst)).then(|| map.values().cloned().collect())
    }

    /// Every node name, sorted.
    pub fn names(&self) -> Vec<String> {
        self.nodes.read().expect("registry lock").keys().cloned().collect()
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Arc<Node>>> {
        self.nodes.write().expect("registry lock")
    }
}
