//! The `logs` command: recent watcher output of a node set, gathered per node.
//!
//! Properties: `node` (a node-set expression, all nodes when absent), `watcher`, `stream`
//! (`stdout` or `stderr`), `lines` (per node, 1 to [`MAX_LINES`], default 10) and `since`
//! (epoch seconds); `forget: true` (`run` gathering a job's output once, for a `run-` watcher
//! only) has each agent drop the watcher's lines and delete its files once it has answered. Every selected node's agent
//! is asked at once (`history`, bounded by `node_timeout`); the reply is `{"logs": {node: [lines]}}`, each line with `node`, `watcher`,
//! `stream`, `pid`, `time` and `line`, and `missing: {node: reason}` for the nodes that gave
//! none. All of it is kept under [`MAX_REPLY_BYTES`] of line text, oldest lines dropped first
//! (`truncated: true`). When no node gives lines, the reply is errno 3 naming each reason, such
//! as a node without a log agent.

use std::sync::Arc;

use clusterd_protocol::connection::probe;
use clusterd_protocol::{Errno, Reply, Request};
use serde_json::{Map, Value};

use crate::registry::Node;
use crate::Ctx;

/// The most lines asked of one node.
pub const MAX_LINES: u64 = 10_000;
/// The most bytes of line text in one reply.
pub const MAX_REPLY_BYTES: usize = 16 * 1024 * 1024;

/// Resolves a node-set expression (the dispatcher's own).
pub type Resolve = fn(&Ctx, &str) -> Result<Vec<Arc<Node>>, String>;

/// Answers `logs`.
pub async fn history(ctx: &Ctx, request: &Request, resolve: Resolve) -> Reply {
    let (nodes, asked) = match read(ctx, request, resolve) {
        Ok(read) => read,
        Err(reason) => return Reply::error(Errno::MessageError, &reason, Value::Null),
    };
    let timeout = ctx.settings().node_timeout;
    let asks = nodes.iter().map(|node| {
        let asked = asked.clone();
        async move {
            let Some(endpoint) = ctx.logs.get(&node.name) else {
                return Err(format!(
                    "node {} has no log agent (it registered no logs_endpoint: run `clusterctl join` \
                     with logs_endpoint in its worker ini's [circus])",
                    node.name
                ));
            };
            let reply = probe(ctx.registry.zmq(), endpoint.as_str(), &asked, timeout)
                .await
                .map_err(|err| format!("node {}: log agent {endpoint}: {err}", node.name))?;
            if reply.is_error() {
                return Err(format!("node {}: {}", node.name, reply.reason().unwrap_or("error")));
            }
            let lines = reply.0.get("lines").and_then(Value::as_array).cloned().unwrap_or_default();
            Ok(lines.into_iter().map(|line| with_node(&node.name, line)).collect::<Vec<Value>>())
        }
    });
    let answers = futures::future::join_all(asks).await;
    let mut logs = Map::new();
    let mut missing = Map::new();
    for (node, answer) in nodes.iter().zip(answers) {
        match answer {
            Ok(lines) => {
                logs.insert(node.name.clone(), Value::Array(lines));
            }
            Err(reason) => {
                missing.insert(node.name.clone(), reason.into());
            }
        }
    }
    if logs.is_empty() {
        let reasons: Vec<String> = missing.values().filter_map(Value::as_str).map(String::from).collect();
        return Reply::error(Errno::MessageError, &reasons.join("; "), Value::Null);
    }
    let truncated = bound(&mut logs);
    let mut fields = Map::new();
    fields.insert("logs".into(), Value::Object(logs));
    if !missing.is_empty() {
        fields.insert("missing".into(), Value::Object(missing));
    }
    if truncated {
        fields.insert("truncated".into(), true.into());
    }
    Reply::ok(fields, Value::Null)
}

/// Checks the properties; returns the nodes and the request for their agents.
fn read(ctx: &Ctx, request: &Request, resolve: Resolve) -> Result<(Vec<Arc<Node>>, Request), String> {
    let expr = request.str_property("node")?.unwrap_or("all");
    let nodes = resolve(ctx, expr)?;
    if nodes.is_empty() {
        return Err(format!("no node matches '{expr}'"));
    }
    let mut asked = Map::new();
    if let Some(watcher) = request.str_property("watcher")? {
        asked.insert("watcher".into(), watcher.into());
    }
    match request.str_property("stream")? {
        None => {}
        Some(stream @ ("stdout" | "stderr")) => {
            asked.insert("stream".into(), stream.into());
        }
        Some(other) => return Err(format!("'stream' must be stdout or stderr, not '{other}'")),
    }
    let lines = match request.properties.get("lines") {
        None | Some(Value::Null) => 10,
        Some(value) => value
            .as_u64()
            .filter(|n| (1..=MAX_LINES).contains(n))
            .ok_or_else(|| format!("'lines' must be a whole number from 1 to {MAX_LINES}, not {value}"))?,
    };
    asked.insert("lines".into(), lines.into());
    match request.properties.get("since") {
        None | Some(Value::Null) => {}
        Some(value) => {
            let since =
                value.as_f64().ok_or_else(|| format!("'since' must be a time in epoch seconds, not {value}"))?;
            asked.insert("since".into(), since.into());
        }
    }
    match request.properties.get("forget") {
        None | Some(Value::Null | Value::Bool(false)) => {}
        // Only a `run` job's output: `logs` is a read, and must not delete a service's logs.
        Some(Value::Bool(true)) if asked.get("watcher").and_then(Value::as_str).is_some_and(is_job) => {
            asked.insert("forget".into(), true.into());
        }
        Some(Value::Bool(true)) => {
            return Err("'forget' is only for the output of a `run` job: a 'watcher' named run-NAME-xxxx".into())
        }
        Some(other) => return Err(format!("'forget' must be true or false, not {other}")),
    }
    Ok((nodes, Request::new("history", asked)))
}

/// A `run` job's watcher: `run-NAME-xxxx`.
pub fn is_job(watcher: &str) -> bool {
    watcher.starts_with("run-")
}

/// `line` with `node` as its first field.
fn with_node(node: &str, line: Value) -> Value {
    let Value::Object(fields) = line else { return line };
    let mut out = Map::new();
    out.insert("node".into(), node.into());
    out.extend(fields);
    Value::Object(out)
}

/// Drops the oldest lines of the largest node until the text fits [`MAX_REPLY_BYTES`].
fn bound(logs: &mut Map<String, Value>) -> bool {
    let size = |line: &Value| line.get("line").and_then(Value::as_str).map_or(0, str::len);
    let mut total: usize = logs.values().filter_map(Value::as_array).flatten().map(size).sum();
    let mut truncated = false;
    while total > MAX_REPLY_BYTES {
        let largest = logs.values_mut().filter_map(Value::as_array_mut).max_by_key(|lines| lines.len());
        let Some(lines) = largest.filter(|lines| !lines.is_empty()) else { break };
        total -= size(&lines.remove(0));
        truncated = true;
    }
    truncated
}
