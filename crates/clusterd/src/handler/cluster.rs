//! Cluster commands, always answered by the master: `register_node`, `unregister_node`,
//! `nodes` and `nodelist`.

use std::time::Duration;

use clusterd_protocol::names::validate_node_name;
use clusterd_protocol::{Endpoint, Errno, Reply, Request};
use serde_json::{Map, Value};
use tracing::info;

use super::{error, ok};
use crate::config::{parse_tags, NodeSpec};
use crate::registry::Source;
use crate::Ctx;

/// Invoked by `clusterctl register_node NAME ENDPOINT STATS_ENDPOINT [PUBSUB_ENDPOINT]` and by
/// self-registering workers. Idempotent: the same name again replaces the entry and the reply
/// says `"replaced": true`. The 2012 property names (`node_name`, `node_endpoint`,
/// `node_stats_endpoint`) are accepted too. When `register_secret` is set, `secret` must be it.
/// The secret is checked before, by [`crate::access::handle`] (the table's `needs_secret`).
pub async fn register_node(ctx: &Ctx, request: &Request) -> Reply {
    // Accepted here but unknown to the other masters would split the cluster's view.
    if let Some(reason) = ctx.shared.unavailable() {
        return error(Errno::MessageError, &reason);
    }
    let logs_endpoint = match crate::logs::registered_endpoint(request) {
        Ok(endpoint) => endpoint,
        Err(reason) => return error(Errno::MessageError, &reason),
    };
    let spec = match node_spec(request).and_then(|spec| not_the_master(ctx, spec)) {
        Ok(spec) => spec,
        Err(reason) => return error(Errno::MessageError, &reason),
    };
    if let Err(reason) = not_a_master(ctx, &spec.endpoint).await {
        return error(Errno::MessageError, &reason);
    }
    let renames = match crate::identity::admit(&ctx.registry, &spec, Source::Registered) {
        Ok(renames) => renames,
        Err(reason) => return error(Errno::MessageError, &reason),
    };
    // A discovered entry of this circusd takes the friendly name: the old one goes, and
    // discovery knows the endpoint from then on, so never re-adds it under its address name.
    if let Some(found) = &renames {
        ctx.registry.remove(&found.name);
        info!(node = %spec.name, was = %found.name, "discovered node renamed by register_node");
    }
    let ask_pubsub = spec.pubsub_endpoint.is_none();
    // Known before the registry changes: the state file written on that change keeps it.
    ctx.logs.set(&spec.name, logs_endpoint);
    let (node, replaced) = match ctx.registry.insert(spec, Source::Registered) {
        Ok(inserted) => inserted,
        Err(err) => return error(Errno::MessageError, &format!("cannot connect to the node: {err}")),
    };
    info!(node = %node.name, endpoint = %node.endpoint, replaced, "node registered");
    let mut fields = Map::new();
    if ask_pubsub {
        if let Err(reason) = node.learn_streams(ctx.settings().node_timeout).await {
            fields.insert("warning".into(), format!("pubsub_endpoint unknown: {reason}").into());
        }
    }
    fields.insert("node".into(), node.describe());
    fields.insert("replaced".into(), replaced.into());
    if let Some(found) = renames {
        fields.insert("renamed_from".into(), found.name.clone().into());
    }
    ok(fields)
}

/// Refuses a node whose endpoints are the master's own.
fn not_the_master(ctx: &Ctx, spec: NodeSpec) -> Result<NodeSpec, String> {
    for endpoint in
        [Some(&spec.endpoint), spec.stats_endpoint.as_ref(), spec.pubsub_endpoint.as_ref()].into_iter().flatten()
    {
        ctx.settings().check_not_own(endpoint)?;
    }
    Ok(spec)
}

/// How long `register_node` waits for the candidate's answer to `nodelist` (a node that is
/// down costs the registration this much, at most `node_timeout`).
const MASTER_PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Refuses a candidate that is a cluster master, found by asking it `nodelist` as discovery
/// does: whatever address or name leads to it (this master through a host name or another
/// interface, or a second master registering the first: their streams would loop).
async fn not_a_master(ctx: &Ctx, endpoint: &Endpoint) -> Result<(), String> {
    let timeout = ctx.settings().node_timeout.min(MASTER_PROBE_TIMEOUT);
    if crate::discovery::is_master(ctx.registry.zmq(), endpoint, timeout).await {
        return Err(format!("{endpoint} is a cluster master (it answers nodelist): a node must be a circusd"));
    }
    Ok(())
}

/// `tags`: a list of strings, or one comma-separated string.
fn tags(request: &Request) -> Result<Vec<String>, String> {
    match request.properties.get("tags") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(text)) => parse_tags(&[text]),
        Some(Value::Array(items)) => {
            let texts: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
            parse_tags(&texts.ok_or("'tags' must be strings")?)
        }
        Some(other) => {
            Err(format!("'tags' must be a list of strings, got {}", clusterd_protocol::message::type_name(other)))
        }
    }
}

/// Reads the registration properties, checking the name and every endpoint.
fn node_spec(request: &Request) -> Result<NodeSpec, String> {
    let either = |new: &str, old: &str| -> Result<Option<String>, String> {
        Ok(request.str_property(new)?.or(request.str_property(old)?).map(str::to_string))
    };
    let name = either("name", "node_name")?.ok_or("message invalid 'name' is missing")?;
    validate_node_name(&name)?;
    let endpoint = |key: &str, old: &str| -> Result<Option<Endpoint>, String> {
        either(key, old)?.map(|text| text.parse::<Endpoint>().map_err(|e| format!("bad {key} {e}"))).transpose()
    };
    Ok(NodeSpec {
        endpoint: endpoint("endpoint", "node_endpoint")?.ok_or("message invalid 'endpoint' is missing")?,
        stats_endpoint: Some(
            endpoint("stats_endpoint", "node_stats_endpoint")?.ok_or("message invalid 'stats_endpoint' is missing")?,
        ),
        pubsub_endpoint: endpoint("pubsub_endpoint", "node_pubsub_endpoint")?,
        tags: tags(request)?,
        name,
    })
}

/// Invoked by `clusterctl unregister_node NAME` and by a joined worker that stops. Needs
/// `secret` when `register_secret` is set, like `register_node`.
/// The secret is checked before, by [`crate::access::handle`].
pub fn unregister_node(ctx: &Ctx, request: &Request) -> Reply {
    if let Some(reason) = ctx.shared.unavailable() {
        return error(Errno::MessageError, &reason);
    }
    let name = match request.str_property("name").and_then(|n| Ok(n.or(request.str_property("node_name")?))) {
        Ok(Some(name)) => name.to_string(),
        Ok(None) => return error(Errno::MessageError, "message invalid 'name' is missing"),
        Err(reason) => return error(Errno::MessageError, &reason),
    };
    match ctx.registry.remove(&name) {
        Some(_) => {
            info!(node = %name, "node unregistered");
            let mut fields = Map::new();
            fields.insert("removed".into(), name.into());
            ok(fields)
        }
        None => error(Errno::MessageError, &super::route::unknown_node(ctx, &name)),
    }
}

/// Invoked by `clusterctl nodes`: every node with its endpoints, state and source, and the
/// probe interval in force.
pub fn nodes(ctx: &Ctx) -> Reply {
    let mut same = crate::identity::same_circusd_map(&ctx.registry);
    let nodes: Vec<Value> = ctx
        .registry
        .all()
        .iter()
        .map(|node| {
            let mut entry = node.describe();
            // Entries the probes found to be the same circusd (same pid and port).
            entry["same_circusd_as"] = same.remove(&node.name).unwrap_or_default().into();
            entry["schedulable"] = ctx.placement.schedulable(&node.name).into();
            entry
        })
        .collect();
    let mut fields = Map::new();
    fields.insert("nodes".into(), nodes.into());
    // The heartbeat, or longer when max_probes_per_sec caps it.
    fields.insert("probe_interval".into(), ctx.registry.probe_interval().as_secs_f64().into());
    // Where the nodes are kept; with etcd, which master leads and whether etcd answers.
    fields.insert("registry".into(), ctx.shared.describe());
    ok(fields)
}

/// Invoked by `clusterctl` to resolve a node-set expression (`--batch`, `run`):
/// `{"expr": "all!second"}` gives `{"nodes": ["first", "third"]}`.
pub fn nodeset(ctx: &Ctx, request: &Request) -> Reply {
    let expr = match request.required_str("expr") {
        Ok(expr) => expr,
        Err(reason) => return error(Errno::MessageError, &reason),
    };
    match super::route::resolve_set(ctx, expr) {
        Ok(nodes) => {
            let names: Vec<Value> = nodes.iter().map(|node| node.name.clone().into()).collect();
            let mut fields = Map::new();
            fields.insert("nodes".into(), names.into());
            ok(fields)
        }
        Err(reason) => error(Errno::MessageError, &reason),
    }
}

/// Invoked by `clusterctl nodelist`: the 2012 reply `{"nodelist": {name: endpoint}}`.
pub fn nodelist(ctx: &Ctx) -> Reply {
    let list: Map<String, Value> =
        ctx.registry.all().iter().map(|node| (node.name.clone(), node.endpoint.as_str().into())).collect();
    let mut fields = Map::new();
    fields.insert("nodelist".into(), Value::Object(list));
    ok(fields)
}
