//! The placement commands: `placements`, `rm` of a placed watcher, `drain` and `undrain`, and
//! moving one copy to another node (drain and failover).

use clusterd_protocol::{Errno, Reply, Request};
use futures::future::join_all;
use serde_json::{json, Map, Value};
use tracing::{info, warn};

use super::place::call_node;
use super::score::{choose, rank};
use super::{candidates, event, persist};
use crate::Ctx;

/// `{"command": "placements"}`: every placed watcher, and the drained nodes.
pub fn placements(ctx: &Ctx) -> Reply {
    let desired = ctx.placement.desired();
    let list: Vec<Value> = desired.placements.values().map(super::Placement::describe).collect();
    let mut fields = Map::new();
    fields.insert("placements".into(), list.into());
    fields.insert("drained".into(), json!(desired.drained));
    fields.insert("epoch".into(), desired.epoch.into());
    Reply::ok(fields, Value::Null)
}

/// Whether `name` is a placed watcher (so that `rm NAME` is the master's).
pub fn is_placed(ctx: &Ctx, name: &str) -> bool {
    ctx.placement.desired().placements.contains_key(name)
}

/// `rm NAME` of a placed watcher: removed from every node holding a copy, and forgotten.
pub async fn rm_placed(ctx: &Ctx, request: Request, name: &str) -> Reply {
    if let Err(reply) = super::shared::may_decide(ctx) {
        return reply;
    }
    let deciding = ctx.placement.deciding().await;
    let Some(placement) = ctx.placement.desired().placements.remove(name) else {
        return Reply::error(Errno::MessageError, &format!("program {name} not found"), Value::Null);
    };
    // Forgotten first (the placement is back if that fails), then removed from the nodes.
    if let Err(reason) = persist(ctx).await {
        let reason = format!("'{name}' was not removed: {reason}");
        return Reply::error(Errno::MessageError, &reason, Value::Null);
    }
    drop(deciding);
    let holders: Vec<String> = placement.nodes.iter().chain(placement.superseded.keys()).cloned().collect();
    let results = join_all(holders.iter().map(|node| call_node(ctx, node, request.clone()))).await;
    let mut failed = Map::new();
    for (node, result) in holders.iter().zip(results) {
        if let Err(reason) = result {
            // A node that is down keeps its copy until someone removes it there by name.
            warn!(watcher = %name, %node, %reason, "placed watcher forgotten, but not removed from this node");
            failed.insert(node.clone(), reason.into());
        }
    }
    info!(watcher = %name, nodes = %placement.nodes.join(","), "placement removed");
    let mut fields = Map::new();
    fields.insert("nodes".into(), json!(placement.nodes));
    if !failed.is_empty() {
        fields.insert("not_removed".into(), Value::Object(failed));
    }
    Reply::ok(fields, Value::Null)
}

/// `drain` (`properties.node`): the node takes no new copies, and each of its placed copies
/// moves to another node (started there first, then stopped and removed here).
pub async fn drain(ctx: &Ctx, request: &Request) -> Reply {
    let node = match node_to_decide_on(ctx, request) {
        Ok(node) => node,
        Err(reply) => return reply,
    };
    {
        let _deciding = ctx.placement.deciding().await;
        ctx.placement.desired().drained.insert(node.clone());
        if let Err(reason) = persist(ctx).await {
            return Reply::error(Errno::MessageError, &format!("{node} was not drained: {reason}"), Value::Null);
        }
    }
    let names = ctx.placement.desired().on_node(&node);
    let mut moved = Map::new();
    let mut stayed = Map::new();
    for name in names {
        match move_copy(ctx, &name, &node, Leaving::Drained).await {
            Ok(to) => drop(moved.insert(name, to.into())),
            Err(reason) => drop(stayed.insert(name, reason.into())),
        }
    }
    info!(%node, moved = moved.len(), stayed = stayed.len(), "drained");
    event(ctx, &node, "drained", json!({"moved": moved, "stayed": stayed}));
    let mut fields = Map::new();
    fields.insert("node".into(), node.into());
    fields.insert("moved".into(), Value::Object(moved));
    fields.insert("stayed".into(), Value::Object(stayed));
    Reply::ok(fields, Value::Null)
}

/// `undrain` (`properties.node`): the node takes new copies again.
pub async fn undrain(ctx: &Ctx, request: &Request) -> Reply {
    let node = match node_to_decide_on(ctx, request) {
        Ok(node) => node,
        Err(reply) => return reply,
    };
    let _deciding = ctx.placement.deciding().await;
    let was = ctx.placement.desired().drained.remove(&node);
    if let Err(reason) = persist(ctx).await {
        return Reply::error(Errno::MessageError, &format!("{node} was not undrained: {reason}"), Value::Null);
    }
    info!(%node, "undrained");
    let mut fields = Map::new();
    fields.insert("node".into(), node.into());
    fields.insert("was_drained".into(), was.into());
    Reply::ok(fields, Value::Null)
}

/// The known node named by `properties.node` of a drain or undrain, if this master may decide
/// (the leader, or the only master).
fn node_to_decide_on(ctx: &Ctx, request: &Request) -> Result<String, Reply> {
    let name =
        request.required_str("node").map_err(|reason| Reply::error(Errno::MessageError, &reason, Value::Null))?;
    if !ctx.registry.contains(name) {
        let reason = format!("unknown node '{name}' (nodes: {})", ctx.registry.names().join(", "));
        return Err(Reply::error(Errno::MessageError, &reason, Value::Null));
    }
    super::shared::may_decide(ctx)?;
    Ok(name.to_string())
}

/// Why a copy leaves its node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leaving {
    /// `drain`: the node is seen, its copy is removed once the new one runs.
    Drained,
    /// Failover: the node is not seen; its copy is removed when it is seen again.
    Lost,
}

/// Moves the copy of `name` on `from` to the best other eligible node; returns that node.
///
/// # Errors
/// No eligible node, or the new node refused the `add` (the copy then stays where it was).
pub async fn move_copy(ctx: &Ctx, name: &str, from: &str, leaving: Leaving) -> Result<String, String> {
    if let Some(reason) = super::shared::refusal(ctx) {
        return Err(reason);
    }
    let _deciding = ctx.placement.deciding().await;
    let Some(placement) = ctx.placement.desired().placements.get(name).cloned() else {
        return Err(format!("'{name}' is no longer placed"));
    };
    let strategy = placement
        .strategy
        .as_deref()
        .and_then(|s| super::Strategy::parse(s).ok())
        .unwrap_or(ctx.settings().placement.strategy);
    if strategy != super::Strategy::RoundRobin {
        super::need_load(ctx).await;
    }
    let candidates = candidates(ctx, placement.constraint.as_deref(), &placement.nodes)?;
    let to = choose(&rank(&candidates, strategy, ctx.placement.next_turn()), 1)?.remove(0);
    call_node(ctx, &to, Request::new("add", placement.add.clone())).await.map_err(|e| format!("{to}: {e}"))?;
    let epoch = {
        let mut desired = ctx.placement.desired();
        let epoch = desired.next_epoch();
        let Some(record) = desired.placements.get_mut(name) else {
            return Err(format!("'{name}' was removed while it moved"));
        };
        record.nodes.retain(|n| n != from);
        record.nodes.push(to.clone());
        record.nodes.sort();
        record.epoch = epoch;
        // A node given a copy again is no longer one to conciliate.
        record.superseded.remove(&to);
        if leaving == Leaving::Lost {
            record.superseded.insert(from.to_string(), epoch);
        }
        epoch
    };
    if let Err(reason) = persist(ctx).await {
        // Not recorded, so not decided: the new copy goes, the old one stays where it was.
        super::place::remove_copies(ctx, name, std::slice::from_ref(&to)).await;
        return Err(format!("the move to {to} was not recorded ({reason}); the new copy was removed again"));
    }
    info!(watcher = %name, %from, %to, epoch, ?leaving, "copy moved");
    if leaving == Leaving::Drained {
        let rm = Request::new("rm", Map::from_iter([("name".to_string(), Value::String(name.to_string()))]));
        if let Err(reason) = call_node(ctx, from, rm).await {
            warn!(watcher = %name, node = %from, %reason, "the drained copy could not be removed: conciliation will");
            if let Some(record) = ctx.placement.desired().placements.get_mut(name) {
                record.superseded.insert(from.to_string(), epoch);
            }
            if let Err(reason) = persist(ctx).await {
                warn!(watcher = %name, node = %from, %reason, "the copy left to conciliate was not recorded");
            }
        }
    }
    Ok(to)
}
