//! Placement (docs/placement.md): `add` without a node makes the master choose where the
//! watcher runs, from the load it measures on the merged stats stream; the desired state of every
//! placed watcher is kept ([`record`]) and persisted in the state file; `failover` copies move
//! off nodes that stay `down` ([`failover`]); `drain` empties a node ([`commands`]).
//!
//! * [`settings`]: `[cluster] placement` and `failover_grace`;
//! * [`score`]: the pure scorer (measured load in, ranking with reasons out);
//! * [`place`]: `add` without a node, replicas, dry runs;
//! * [`commands`]: `placements`, `rm` of a placed watcher, `drain`, `undrain`;
//! * [`failover`]: the task that fails copies over and conciliates returning nodes;
//! * [`shared`]: with several masters, the store that shares the desired state (etcd) and who
//!   may decide.

pub mod commands;
pub mod failover;
pub mod place;
pub mod record;
pub mod score;
pub mod settings;
pub mod shared;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

use clusterd_protocol::nodeset::{self, Member};
use serde_json::{Map, Value};

pub use record::{Desired, Placement};
pub use score::{Candidate, Ineligible, NodeLoad, Scored};
pub use settings::{PlacementSettings, Strategy, PLACEMENT_KEYS};
pub use shared::SharedStore;

use crate::link::NodeState;
use crate::view::ClusterView;
use crate::Ctx;

/// Placement's share of the master: the desired state and the round-robin turn.
#[derive(Default)]
pub struct Placements {
    desired: Mutex<Desired>,
    turn: AtomicU64,
    /// The master's context, for writing the state file from a handler.
    ctx: OnceLock<Weak<Ctx>>,
    /// The measured load: a cluster view fed with the stats of the stream tap only (no status
    /// polls, which only the dashboard needs), while a decision needed it lately.
    load: ClusterView,
    /// When a decision last needed the load.
    load_needed: Mutex<Option<Instant>>,
    /// Whether the measuring task reads the tap now.
    measuring: AtomicBool,
    /// Wakes the measuring task.
    wake: Arc<tokio::sync::Notify>,
    /// With `registry = "etcd"`: where the desired state is shared ([`shared`]).
    shared: OnceLock<Arc<dyn SharedStore>>,
    /// Held by each decision from its choice to its persisted record, so that a write that
    /// fails can put the desired state back without losing another decision's change.
    deciding: tokio::sync::Mutex<()>,
}

/// How long placement keeps measuring (and so keeps every node's stats stream subscribed) after
/// the last decision that needed the load.
const KEEP_MEASURING: Duration = Duration::from_secs(300);
/// How long a decision waits for the first figures when placement was not measuring: the
/// nodes' stats streams get subscribed to, and circusd-stats publishes every second.
const WARM_UP: Duration = Duration::from_millis(2500);

impl Placements {
    /// The desired state, locked (never held across an `.await`).
    pub fn desired(&self) -> MutexGuard<'_, Desired> {
        self.desired.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Shares the desired state through `store` from now on (set once, by `crate::etcd`).
    pub fn set_shared(&self, store: Arc<dyn SharedStore>) {
        let _ = self.shared.set(store);
    }

    /// Waits for the other decisions to be recorded; the guard is held until this one is.
    pub async fn deciding(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.deciding.lock().await
    }

    /// Whether `node` may take new copies (not drained).
    pub fn schedulable(&self, node: &str) -> bool {
        !self.desired().drained.contains(node)
    }

    /// The round-robin turn of the next placement, moved on by one.
    fn next_turn(&self) -> u64 {
        self.turn.fetch_add(1, Ordering::Relaxed)
    }

    /// The round-robin turn of the next placement, left where it is (dry runs).
    fn peek_turn(&self) -> u64 {
        self.turn.load(Ordering::Relaxed)
    }
}

/// Starts placement: restores the saved desired state, makes sure the cluster view runs (it
/// measures the load) and starts the failover task.
pub fn start(ctx: &Arc<Ctx>, saved: &Value) {
    match Desired::from_saved(saved) {
        Ok(desired) => {
            if !desired.placements.is_empty() {
                tracing::info!(placements = desired.placements.len(), "restored placements");
            }
            *ctx.placement.desired() = desired;
        }
        Err(reason) => tracing::error!(%reason, "saved placements unreadable: starting without them"),
    }
    let _ = ctx.placement.ctx.set(Arc::downgrade(ctx));
    tokio::spawn(measure(Arc::downgrade(ctx), ctx.placement.wake.clone()));
    tokio::spawn(failover::run(Arc::downgrade(ctx)));
}

/// Called before a decision that needs the measured load: starts measuring if placement was not
/// (and waits for the first figures), and keeps it measuring for [`KEEP_MEASURING`].
pub async fn need_load(ctx: &Ctx) {
    *ctx.placement.load_needed.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Instant::now());
    if !ctx.placement.measuring.load(Ordering::Acquire) {
        ctx.placement.wake.notify_one();
        tokio::time::sleep(WARM_UP).await;
    }
}

/// Measures the load while decisions need it: reads the stats of the stream tap into the load
/// view (holding the tap, which keeps every node's stats subscribed), and lets go of it once no
/// decision needed the load for [`KEEP_MEASURING`]. Ends when the master stops.
async fn measure(ctx: Weak<Ctx>, wake: Arc<tokio::sync::Notify>) {
    let mut check = tokio::time::interval(Duration::from_secs(30));
    loop {
        tokio::select! {
            () = wake.notified() => {}
            _ = check.tick() => {
                if ctx.strong_count() == 0 {
                    return;
                }
                continue;
            }
        }
        let Some(tap) = ctx.upgrade().map(|ctx| ctx.registry.streams().subscribe()) else { return };
        if let Some(ctx) = ctx.upgrade() {
            ctx.placement.measuring.store(true, Ordering::Release);
        }
        tracing::debug!("placement measures the load");
        if !read_load(tap, &ctx).await {
            return;
        }
        tracing::debug!("placement stopped measuring the load");
    }
}

/// Reads the tap into the load view until no decision needed it for [`KEEP_MEASURING`] (true)
/// or the master stops (false).
async fn read_load(mut tap: crate::streams::TapReceiver, ctx: &Weak<Ctx>) -> bool {
    let mut forget = tokio::time::interval(Duration::from_secs(30));
    loop {
        tokio::select! {
            message = tap.recv() => {
                let Some(message) = message else { return false };
                let (Some(node), crate::streams::TapKind::Stat) = (message.node.as_deref(), message.kind) else {
                    continue;
                };
                let Some(ctx) = ctx.upgrade() else { return false };
                ctx.placement.load.on_stat(node, &message.topic, &message.payload);
            }
            _ = forget.tick() => {
                let Some(ctx) = ctx.upgrade() else { return false };
                let names = ctx.registry.names();
                ctx.placement.load.retain_nodes(&names);
                let needed = *ctx.placement.load_needed.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if needed.is_none_or(|at| at.elapsed() >= KEEP_MEASURING) {
                    ctx.placement.measuring.store(false, Ordering::Release);
                    return true;
                }
            }
        }
    }
}

/// Records the desired state now, before the change is answered: a master killed right after a
/// placement must not lose it. With the state file: written (nodes and desired state, one atomic
/// write). With `registry = "etcd"`: what changed is written to etcd fenced on this master's
/// leadership ([`shared`]).
///
/// # Errors
/// Only with etcd: the write was refused (this master no longer leads) or etcd did not answer;
/// the desired state is then back to what etcd has, and the caller undoes what it did.
pub async fn persist(ctx: &Ctx) -> Result<(), String> {
    if let Some(store) = ctx.placement.shared.get() {
        return store.write().await;
    }
    let settings = ctx.settings();
    let file = settings.local_state_file().map(crate::state::StateFile::new);
    let (Some(ctx), Some(state)) = (ctx.placement.ctx.get().and_then(Weak::upgrade), file) else {
        return Ok(());
    };
    crate::node_life::flush(ctx, &state).await;
    Ok(())
}

/// Publishes `cluster.<node>.<event>` on the merged event stream.
pub fn event(ctx: &Ctx, node: &str, event: &str, fields: Value) {
    let fields = match fields {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    ctx.registry.streams().cluster_event(node, event, fields);
}

/// The measured load of every node, from the cluster view's fresh stats.
pub fn loads(view: &ClusterView) -> BTreeMap<String, NodeLoad> {
    view.node_totals()
        .into_iter()
        .map(|(name, t)| (name.clone(), NodeLoad { name, cpu: t.cpu, mem: t.mem, processes: t.processes }))
        .collect()
}

/// Every registered node as a candidate for a copy of a watcher: eligible when alive, inside
/// `constraint`, not drained and not among `holders`.
///
/// # Errors
/// The constraint is not a valid node-set expression or selects no node.
pub fn candidates(ctx: &Ctx, constraint: Option<&str>, holders: &[String]) -> Result<Vec<Candidate>, String> {
    let nodes = ctx.registry.all();
    let allowed: Option<Vec<String>> = match constraint {
        None => None,
        Some(expr) => {
            let set = nodeset::parse(expr).map_err(|e| format!("constraint '{expr}': {e}"))?;
            let members: Vec<Member<'_>> = nodes.iter().map(|n| Member { name: &n.name, tags: &n.tags }).collect();
            let selected = set.resolve(&members).map_err(|e| format!("constraint '{expr}': {e}"))?;
            Some(selected.iter().map(|s| s.to_string()).collect())
        }
    };
    let mut loads = loads(&ctx.placement.load);
    let drained = ctx.placement.desired().drained.clone();
    Ok(nodes
        .iter()
        .map(|node| {
            let state = node.link.health().state;
            let ineligible = if state != NodeState::Alive {
                Some(Ineligible::NotAlive(state.as_str()))
            } else if allowed.as_ref().is_some_and(|allowed| !allowed.contains(&node.name)) {
                Some(Ineligible::Constraint)
            } else if drained.contains(&node.name) {
                Some(Ineligible::Drained)
            } else if holders.contains(&node.name) {
                Some(Ineligible::HoldsReplica)
            } else {
                None
            };
            let load =
                loads.remove(&node.name).unwrap_or_else(|| NodeLoad { name: node.name.clone(), ..NodeLoad::default() });
            Candidate { load, ineligible }
        })
        .collect())
}
