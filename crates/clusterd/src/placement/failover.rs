//! Failover and conciliation: a task looks at the desired state and the nodes' health every
//! [`TICK`] and acts on what [`decide`] says.
//!
//! * A `failover` copy on a node `down` for `failover_grace` moves to another eligible node,
//!   unless the **partition guard** holds: more than half of the nodes went unseen within one
//!   grace period of that node, so the master is more likely the one cut off. The master never
//!   stops anything because it lost sight of nodes.
//! * When a node a copy was moved away from is `alive` again (it was frozen or partitioned, not
//!   dead), its copy is removed there (**conciliation**): the newest epoch wins.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Weak;
use std::time::{Duration, Instant};

use clusterd_protocol::Request;
use serde_json::{json, Map, Value};
use tracing::{info, warn};

use super::commands::{move_copy, Leaving};
use super::place::call_node;
use super::{event, persist, Desired};
use crate::link::NodeState;
use crate::Ctx;

/// How often the task looks.
pub const TICK: Duration = Duration::from_millis(500);

/// What the master sees of one node.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seen {
    /// Its state.
    pub state: NodeState,
    /// When that state began.
    pub since: Instant,
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Move `watcher`'s copy off `from`.
    Failover { watcher: String, from: String },
    /// Do not move it, for `reason` (the partition guard).
    Hold { watcher: String, from: String, reason: String },
    /// Remove the superseded copy of `watcher` on `node`, seen again.
    Conciliate { watcher: String, node: String },
}

/// The actions the desired state and the nodes' health call for at `now`.
pub fn decide(desired: &Desired, nodes: &BTreeMap<String, Seen>, now: Instant, grace: Duration) -> Vec<Action> {
    let mut actions = Vec::new();
    for placement in desired.placements.values() {
        for node in placement.superseded.keys() {
            if nodes.get(node).is_some_and(|seen| seen.state == NodeState::Alive) {
                actions.push(Action::Conciliate { watcher: placement.name.clone(), node: node.clone() });
            }
        }
        if !placement.failover {
            continue;
        }
        for from in &placement.nodes {
            let Some(seen) = nodes.get(from) else { continue };
            if seen.state != NodeState::Down || now.saturating_duration_since(seen.since) < grace {
                continue;
            }
            let (watcher, from) = (placement.name.clone(), from.clone());
            match guard(nodes, seen.since, grace) {
                Some(reason) => actions.push(Action::Hold { watcher, from, reason }),
                None => actions.push(Action::Failover { watcher, from }),
            }
        }
    }
    actions
}

/// The partition guard: `Some(reason)` when more than half of the nodes went unseen within one
/// grace period of `lost_at`.
fn guard(nodes: &BTreeMap<String, Seen>, lost_at: Instant, grace: Duration) -> Option<String> {
    let unseen: Vec<&String> = nodes
        .iter()
        .filter(|(_, seen)| seen.state != NodeState::Alive)
        .filter(|(_, seen)| {
            let gap = if seen.since > lost_at { seen.since - lost_at } else { lost_at - seen.since };
            gap <= grace
        })
        .map(|(name, _)| name)
        .collect();
    (unseen.len() * 2 > nodes.len()).then(|| {
        let names: Vec<&str> = unseen.iter().map(|s| s.as_str()).collect();
        format!(
            "partition guard: {} of {} nodes ({}) went unseen within one failover_grace ({}): the master is more \
             likely the one cut off, so nothing fails over",
            unseen.len(),
            nodes.len(),
            names.join(", "),
            humantime::format_duration(grace)
        )
    })
}

/// The task; ends when the master's context is gone.
pub async fn run(ctx: Weak<Ctx>) {
    let mut tick = tokio::time::interval(TICK);
    // (watcher, node) holds already logged and announced, so that each is said once.
    let mut announced: BTreeSet<(String, String)> = BTreeSet::new();
    loop {
        tick.tick().await;
        let Some(ctx) = ctx.upgrade() else { return };
        // With several masters only the leader decides, and nobody while etcd is unreachable
        // (a master cut off from etcd may be the one cut off from the nodes too).
        if super::shared::refusal(&ctx).is_some() {
            continue;
        }
        let nodes: BTreeMap<String, Seen> = ctx
            .registry
            .all()
            .iter()
            .map(|node| {
                let health = node.link.health();
                (node.name.clone(), Seen { state: health.state, since: health.since })
            })
            .collect();
        let grace = ctx.settings().placement.failover_grace;
        let actions = decide(&ctx.placement.desired(), &nodes, Instant::now(), grace);
        let mut held = BTreeSet::new();
        for action in actions {
            match action {
                Action::Hold { watcher, from, reason } => {
                    if announced.insert((watcher.clone(), from.clone())) {
                        warn!(%watcher, node = %from, %reason, "failover held");
                        event(&ctx, &from, "failover_held", json!({"watcher": watcher, "reason": reason}));
                    }
                    held.insert(watcher.clone());
                    set_held(&ctx, &watcher, Some(reason));
                }
                Action::Failover { watcher, from } => match move_copy(&ctx, &watcher, &from, Leaving::Lost).await {
                    Ok(to) => {
                        let epoch = ctx.placement.desired().placements.get(&watcher).map(|p| p.epoch);
                        event(&ctx, &to, "failed_over", json!({"watcher": watcher, "from": from, "epoch": epoch}));
                    }
                    Err(reason) => {
                        if announced.insert((watcher.clone(), from.clone())) {
                            warn!(%watcher, node = %from, %reason, "failover not possible now");
                        }
                        held.insert(watcher.clone());
                        set_held(&ctx, &watcher, Some(format!("failover of the copy on {from} waits: {reason}")));
                    }
                },
                Action::Conciliate { watcher, node } => conciliate(&ctx, &watcher, &node).await,
            }
        }
        // Holds that no longer apply are cleared, and may be announced again later.
        let placed: Vec<String> = ctx.placement.desired().placements.keys().cloned().collect();
        for watcher in placed.into_iter().filter(|w| !held.contains(w)) {
            set_held(&ctx, &watcher, None);
        }
        announced.retain(|(watcher, _)| held.contains(watcher));
    }
}

fn set_held(ctx: &Ctx, watcher: &str, reason: Option<String>) {
    if let Some(record) = ctx.placement.desired().placements.get_mut(watcher) {
        record.held = reason;
    }
}

/// Removes the superseded copy of `watcher` on `node` (stop, then `rm`).
async fn conciliate(ctx: &Ctx, watcher: &str, node: &str) {
    let _deciding = ctx.placement.deciding().await;
    let rm = Request::new("rm", Map::from_iter([("name".to_string(), Value::String(watcher.to_string()))]));
    let removed = match call_node(ctx, node, rm).await {
        Ok(_) => true,
        // Already gone there (removed by hand, or circusd restarted without it).
        Err(reason) if reason.contains("not found") => true,
        Err(reason) => {
            warn!(%watcher, %node, %reason, "conciliation failed: tried again on the next tick");
            false
        }
    };
    if !removed {
        return;
    }
    let epoch = {
        let mut desired = ctx.placement.desired();
        let Some(record) = desired.placements.get_mut(watcher) else { return };
        record.superseded.remove(node);
        record.epoch
    };
    if let Err(reason) = persist(ctx).await {
        // The copy is gone; the record of it comes back with the next look at this node.
        warn!(%watcher, %node, %reason, "conciliation not recorded");
        return;
    }
    info!(%watcher, %node, epoch, "conciliated: the superseded copy was removed");
    event(ctx, node, "conciliated", json!({"watcher": watcher, "epoch": epoch}));
}

#[cfg(test)]
#[path = "failover_tests.rs"]
mod tests;
