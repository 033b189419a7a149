//! The JSON API: reads from the cluster view, actions through the one dispatcher.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use clusterd_protocol::Request;
use serde_json::{json, Map, Value};

use super::guard::refuse;
use super::Web;
use crate::access::{self, Door};

/// The watcher actions the API and the buttons offer.
pub const ACTIONS: &[&str] = &["start", "stop", "restart", "incr", "decr"];

/// `GET /healthz`: 200 while the master runs, with its node count and its registry (with
/// `registry = "etcd"`, `"stale": true` while etcd does not answer: the master still serves).
pub async fn healthz(State(web): State<Web>) -> Json<Value> {
    Json(json!({"status": "ok", "nodes": web.ctx.registry.names().len(), "registry": web.ctx.shared.describe()}))
}

/// `GET /api/nodes`.
pub async fn nodes(State(web): State<Web>) -> Json<Value> {
    Json(json!({"nodes": web.view.snapshot(&web.ctx.registry).nodes}))
}

/// `GET /api/watchers`: every watcher of every node, with its processes.
pub async fn watchers(State(web): State<Web>) -> Json<Value> {
    Json(json!({"watchers": web.view.watchers()}))
}

/// `GET /api/placements`: the placed watchers and drained nodes, as `placements` answers them.
pub async fn placements(State(web): State<Web>) -> Json<Value> {
    let mut fields = crate::placement::commands::placements(&web.ctx).0;
    fields.retain(|key, _| key != "status" && key != "time");
    Json(Value::Object(fields))
}

/// `POST /api/nodes/{node}/watchers/{watcher}/{action}`.
pub async fn act_on_node(
    State(web): State<Web>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path((node, watcher, action)): Path<(String, String, String)>,
) -> Response {
    act(&web, peer, &node, &watcher, &action).await
}

/// `POST /api/watchers/{watcher}/{action}?nodes=SET`: on the nodes of a node-set expression
/// (`@eu`, `web*`), every node when `nodes` is left out; the reply gathers each node's.
pub async fn act_on_set(
    State(web): State<Web>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path((watcher, action)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let nodes = query.get("nodes").map(|s| s.trim()).filter(|s| !s.is_empty()).unwrap_or("all");
    if clusterd_protocol::nodeset::is_expression(nodes) {
        return act(&web, peer, nodes, &watcher, &action).await;
    }
    // A plain name is forwarded to that node; its reply is put in the gathered shape so that
    // this route always answers with `replies`.
    let response = act(&web, peer, nodes, &watcher, &action).await;
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else { return parts.status.into_response() };
    let reply: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let status = reply.get("status").cloned().unwrap_or(Value::Null);
    (parts.status, Json(json!({"status": status, "replies": {nodes: reply}}))).into_response()
}

async fn act(web: &Web, peer: SocketAddr, node: &str, watcher: &str, action: &str) -> Response {
    if !ACTIONS.contains(&action) {
        let reason = format!("unknown action '{action}' (allowed: {})", ACTIONS.join(", "));
        return refuse(StatusCode::BAD_REQUEST, &reason);
    }
    let mut properties = Map::new();
    properties.insert("name".into(), watcher.into());
    properties.insert("node".into(), node.into());
    if action != "incr" && action != "decr" {
        properties.insert("waiting".into(), false.into());
    }
    let identity = format!("http:{peer}");
    let answer = access::handle(&web.ctx, Door::Http, identity.as_bytes(), Request::new(action, properties)).await;
    let status = if answer.reply.is_error() { StatusCode::BAD_GATEWAY } else { StatusCode::OK };
    (status, Json(Value::Object(answer.reply.0))).into_response()
}
