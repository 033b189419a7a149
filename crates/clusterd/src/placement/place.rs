//! `add` without a node: the master chooses (by `properties.placement` or `[cluster]
//! placement`), among the nodes `properties.constraint` allows, `properties.replicas` distinct
//! nodes, forwards the `add` to each and records the placement. `properties.dry_run` answers the
//! choice and every node's score instead, changing nothing.

use clusterd_protocol::{Errno, Reply, Request};
use futures::future::join_all;
use serde_json::{json, Map, Value};
use tracing::info;

use super::score::{choose, rank};
use super::{candidates, event, persist, Placement, Strategy};
use crate::Ctx;

/// The most copies one request may ask for.
pub const MAX_REPLICAS: u64 = 1000;

/// The placement properties of one request (removed from what the nodes get).
#[derive(Debug, Clone, PartialEq)]
pub struct PlaceOptions {
    /// `placement`: the strategy, when the request chooses one.
    pub strategy: Option<Strategy>,
    /// `constraint`: a node set.
    pub constraint: Option<String>,
    /// `replicas`: copies on distinct nodes (default 1).
    pub replicas: usize,
    /// `dry_run`: answer the choice, change nothing.
    pub dry_run: bool,
    /// `failover`: move the copies off nodes that stay down.
    pub failover: bool,
}

impl PlaceOptions {
    /// Takes the placement properties out of `properties`.
    ///
    /// # Errors
    /// A property of the wrong type or out of bounds, named.
    pub fn take(properties: &mut Map<String, Value>) -> Result<PlaceOptions, String> {
        let text = |value: Option<Value>, key: &str| -> Result<Option<String>, String> {
            match value {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(text)) => Ok(Some(text)),
                Some(other) => Err(format!("'{key}' must be a string, got {}", type_name(&other))),
            }
        };
        let flag = |value: Option<Value>, key: &str| -> Result<bool, String> {
            match value {
                None | Some(Value::Null) => Ok(false),
                Some(Value::Bool(flag)) => Ok(flag),
                Some(other) => Err(format!("'{key}' must be a boolean, got {}", type_name(&other))),
            }
        };
        let strategy = text(properties.remove("placement"), "placement")?
            .map(|name| Strategy::parse(&name).map_err(|e| format!("'placement': {e}")))
            .transpose()?;
        let constraint = text(properties.remove("constraint"), "constraint")?;
        let replicas = match properties.remove("replicas") {
            None | Some(Value::Null) => 1,
            Some(value) => match value.as_u64() {
                Some(n @ 1..=MAX_REPLICAS) => n as usize,
                _ => return Err(format!("'replicas' must be a whole number from 1 to {MAX_REPLICAS}, got {value}")),
            },
        };
        let dry_run = flag(properties.remove("dry_run"), "dry_run")?;
        let failover = flag(properties.remove("failover"), "failover")?;
        Ok(PlaceOptions { strategy, constraint, replicas, dry_run, failover })
    }
}

fn type_name(value: &Value) -> &'static str {
    clusterd_protocol::message::type_name(value)
}

/// Places the watcher `add` names on nodes the master chooses.
pub async fn place(ctx: &Ctx, mut request: Request) -> Reply {
    let options = match PlaceOptions::take(&mut request.properties) {
        Ok(options) => options,
        Err(reason) => return Reply::error(Errno::MessageError, &reason, Value::Null),
    };
    let Ok(Some(name)) = request.str_property("name").map(|n| n.map(str::to_string)) else {
        return Reply::error(Errno::MessageError, "message invalid 'name' is missing", Value::Null);
    };
    // A dry run changes nothing: any master answers it. A placement is the leader's decision.
    let _deciding = if options.dry_run {
        None
    } else {
        if let Err(reply) = super::shared::may_decide(ctx) {
            return reply;
        }
        Some(ctx.placement.deciding().await)
    };
    if let Some(placed) = ctx.placement.desired().placements.get(&name) {
        if !options.dry_run {
            let reason = format!("watcher '{name}' is already placed on {} (rm it first)", placed.nodes.join(", "));
            return Reply::error(Errno::MessageError, &reason, Value::Null);
        }
    }
    let strategy = options.strategy.unwrap_or(ctx.settings().placement.strategy);
    if strategy != Strategy::RoundRobin {
        super::need_load(ctx).await;
    }
    let deciding = std::time::Instant::now();
    let candidates = match candidates(ctx, options.constraint.as_deref(), &[]) {
        Ok(candidates) => candidates,
        Err(reason) => return Reply::error(Errno::MessageError, &reason, Value::Null),
    };
    let turn = if options.dry_run { ctx.placement.peek_turn() } else { ctx.placement.next_turn() };
    let ranked = rank(&candidates, strategy, turn);
    let chosen = choose(&ranked, options.replicas);
    let decision_ms = deciding.elapsed().as_secs_f64() * 1e3;
    if options.dry_run {
        let mut fields = Map::new();
        fields.insert("dry_run".into(), true.into());
        fields.insert("strategy".into(), strategy.as_str().into());
        fields.insert("chosen".into(), json!(chosen.as_ref().ok()));
        if let Err(reason) = &chosen {
            fields.insert("refused".into(), reason.clone().into());
        }
        fields.insert("scores".into(), serde_json::to_value(&ranked).expect("scores serialize"));
        // What the choice itself took (loads, eligibility, ranking), apart from the reply.
        fields.insert("decision_ms".into(), ((decision_ms * 1e3).round() / 1e3).into());
        return Reply::ok(fields, Value::Null);
    }
    let nodes = match chosen {
        Ok(nodes) => nodes,
        Err(reason) => return Reply::error(Errno::MessageError, &reason, Value::Null),
    };
    let replies = join_all(nodes.iter().map(|node| call_node(ctx, node, request.clone()))).await;
    let failed: Vec<String> = nodes
        .iter()
        .zip(&replies)
        .filter_map(|(node, reply)| Some(format!("{node}: {}", reply.as_ref().err()?)))
        .collect();
    if !failed.is_empty() {
        // All or nothing: the copies that did start are removed again.
        let placed: Vec<String> =
            nodes.iter().zip(&replies).filter(|(_, reply)| reply.is_ok()).map(|(node, _)| node.clone()).collect();
        remove_copies(ctx, &name, &placed).await;
        let reason = format!("placing '{name}' failed ({}); nothing was placed", failed.join("; "));
        return Reply::error(Errno::MessageError, &reason, Value::Null);
    }
    let epoch = {
        let mut desired = ctx.placement.desired();
        let epoch = desired.next_epoch();
        let placement = Placement {
            name: name.clone(),
            add: request.properties.clone(),
            constraint: options.constraint.clone(),
            replicas: options.replicas,
            failover: options.failover,
            strategy: options.strategy.map(|s| s.as_str().to_string()),
            nodes: nodes.clone(),
            epoch,
            superseded: Default::default(),
            held: None,
        };
        desired.placements.insert(name.clone(), placement);
        epoch
    };
    if let Err(reason) = persist(ctx).await {
        // Not recorded, so not decided: the other masters would never know of these copies.
        remove_copies(ctx, &name, &nodes).await;
        let reason = format!("placing '{name}' was not recorded ({reason}); its copies were removed again");
        return Reply::error(Errno::MessageError, &reason, Value::Null);
    }
    info!(watcher = %name, nodes = %nodes.join(","), epoch, strategy = strategy.as_str(), "placed");
    for node in &nodes {
        event(ctx, node, "placed", json!({"watcher": name, "epoch": epoch, "strategy": strategy.as_str()}));
    }
    let mut reply =
        replies.into_iter().next().and_then(Result::ok).unwrap_or_else(|| Reply::ok(Map::new(), Value::Null));
    reply.0.insert("node".into(), nodes[0].clone().into());
    if nodes.len() > 1 {
        reply.0.insert("nodes".into(), json!(nodes));
    }
    reply.0.insert("epoch".into(), epoch.into());
    reply
}

/// Removes the watcher `name` from `nodes` (a placement taken back), best effort.
pub async fn remove_copies(ctx: &Ctx, name: &str, nodes: &[String]) {
    let rm = Request::new("rm", Map::from_iter([("name".to_string(), Value::String(name.to_string()))]));
    join_all(nodes.iter().map(|node| call_node(ctx, node, rm.clone()))).await;
}

/// Sends `request` to the node `name` under the master's deadline; an error reply of the node
/// is a failure too.
///
/// # Errors
/// Why the node did not do it: unknown, no answer, or its own error reason.
pub async fn call_node(ctx: &Ctx, name: &str, request: Request) -> Result<Reply, String> {
    let node = ctx.registry.get(name).ok_or_else(|| format!("node '{name}' is no longer registered"))?;
    let settings = ctx.settings();
    let timeout = if request.waiting() { settings.waiting_timeout } else { settings.node_timeout };
    let reply = node.link.call(request, timeout).await.map_err(|err| err.describe(name))?;
    if reply.status() == Some("error") {
        return Err(reply.0.get("reason").and_then(Value::as_str).unwrap_or("error").to_string());
    }
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_taken_out_and_checked() {
        let mut props = json!({"name": "web", "cmd": "sleep 1", "placement": "round-robin", "constraint": "@eu",
            "replicas": 2, "dry_run": true, "failover": true});
        let Value::Object(props) = &mut props else { unreachable!() };
        let options = PlaceOptions::take(props).unwrap();
        assert_eq!(options.strategy, Some(Strategy::RoundRobin));
        assert_eq!((options.constraint.as_deref(), options.replicas), (Some("@eu"), 2));
        assert!(options.dry_run && options.failover);
        let mut left: Vec<&String> = props.keys().collect();
        left.sort();
        assert_eq!(left, ["cmd", "name"]);
        for (key, bad, says) in [
            ("replicas", json!(0), "from 1 to 1000"),
            ("replicas", json!(1001), "from 1 to 1000"),
            ("replicas", json!("2"), "from 1 to 1000"),
            ("dry_run", json!("yes"), "'dry_run' must be a boolean"),
            ("placement", json!("random"), "least-loaded"),
            ("constraint", json!(3), "'constraint' must be a string"),
        ] {
            let mut props = Map::from_iter([(key.to_string(), bad)]);
            let err = PlaceOptions::take(&mut props).unwrap_err();
            assert!(err.contains(says), "{key}: {err}");
        }
    }
}
