//! `GET /api/logs?node=NODE&watcher=WATCHER[&stream=stdout|stderr]`: one watcher's output on
//! one node as server-sent events, for the dashboard's log pane: `line` events (each line's
//! JSON: `node`, `watcher`, `stream`, `pid`, `time`, `line`), the last [`HISTORY`] lines
//! (`logs`, through the dispatcher) first, then the live ones, and a `notice` event when the
//! history could not be read.
//!
//! The live lines come from the master's own merged feed (`[cluster] logs_endpoint`): the
//! stream holds a subscription to `log.<node>:<watcher>.` on it while it is open, so the master
//! follows the node's agent only while a pane (or a `clusterctl logs -f`) is open, and stops
//! when the last one closes. A browser that does not read loses lines (the stream ends, its
//! EventSource reconnects) rather than holding the master up.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::StatusCode;
use axum::response::sse::Event;
use axum::response::{IntoResponse, Response};
use clusterd_protocol::connection::stream::StreamReceiver;
use clusterd_protocol::names::validate_word;
use clusterd_protocol::Request;
use serde_json::{Map, Value};
use tokio::sync::mpsc;

use super::guard::refuse;
use super::sse::{event, until_stopped};
use super::Web;
use crate::access::{self, Door};

/// Lines of history sent first.
const HISTORY: u64 = 200;
/// Lines queued for one browser before its stream is ended.
const QUEUE: usize = 4096;
/// Lines one subscription queues in libzmq.
const RCVHWM: i32 = 10_000;
/// The largest line message taken (a line is at most 16 KiB, plus its JSON).
const MAX_MESSAGE: usize = 64 * 1024;

/// `GET /api/logs`.
pub async fn stream(
    State(web): State<Web>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let get = |key: &str| query.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());
    let (Some(node), Some(watcher)) = (get("node"), get("watcher")) else {
        return refuse(StatusCode::BAD_REQUEST, "node and watcher are required: /api/logs?node=NODE&watcher=WATCHER");
    };
    let stream = get("stream");
    if let Some(other) = stream.filter(|s| !matches!(*s, "stdout" | "stderr")) {
        return refuse(StatusCode::BAD_REQUEST, &format!("'stream' must be stdout or stderr, not '{other}'"));
    }
    if let Err(reason) = validate_word(watcher) {
        return refuse(StatusCode::BAD_REQUEST, &format!("bad watcher name: {reason}"));
    }
    if !web.ctx.registry.contains(node) {
        return refuse(StatusCode::NOT_FOUND, &format!("unknown node '{node}'"));
    }
    let Some(feed) = web.ctx.logs.feed_endpoint() else {
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "no live watcher output: the master publishes none without [cluster] logs_endpoint",
        );
    };
    let prefix = format!("log.{node}:{watcher}.{}", stream.unwrap_or(""));
    let mut lines = match StreamReceiver::connect(web.ctx.registry.zmq(), &feed, prefix.as_bytes(), RCVHWM, MAX_MESSAGE)
    {
        Ok(receiver) => receiver,
        Err(err) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, &format!("cannot subscribe to {feed}: {err}")),
    };
    let (tx, rx) = mpsc::channel::<Event>(QUEUE);
    let asked = history_request(node, watcher, stream);
    let identity = format!("http:{peer}");
    let task_web = web.clone();
    tokio::spawn(async move {
        // Subscribed first, so a line written while the history is read is not missed; the
        // history's lines are then skipped when they come live.
        let answer = access::handle(&task_web.ctx, Door::Http, identity.as_bytes(), asked).await;
        let mut seen = HashSet::new();
        if answer.reply.is_error() {
            let reason = answer.reply.reason().unwrap_or("error").to_string();
            if tx.send(Event::default().event("notice").data(reason)).await.is_err() {
                return;
            }
        }
        for line in history_lines(&answer.reply.0) {
            seen.insert(key(&line));
            if tx.send(event("line", &line)).await.is_err() {
                return;
            }
        }
        loop {
            tokio::select! {
                publication = lines.recv() => {
                    let Ok(publication) = publication else { return };
                    let Ok(line) = serde_json::from_slice::<Value>(&publication.payload) else { continue };
                    if !seen.is_empty() && seen.remove(&key(&line)) {
                        continue;
                    }
                    // A full queue means the browser does not read: end it rather than wait.
                    if tx.try_send(event("line", &line)).is_err() {
                        return;
                    }
                }
                () = tx.closed() => return,
            }
        }
    });
    until_stopped(&web, rx).into_response()
}

/// `logs` for the last [`HISTORY`] lines of `watcher` on `node`.
fn history_request(node: &str, watcher: &str, stream: Option<&str>) -> Request {
    let mut props = Map::new();
    props.insert("node".into(), node.into());
    props.insert("watcher".into(), watcher.into());
    props.insert("lines".into(), HISTORY.into());
    if let Some(stream) = stream {
        props.insert("stream".into(), stream.into());
    }
    Request::new("logs", props)
}

/// The lines of a `logs` reply (one node's), oldest first.
fn history_lines(reply: &Map<String, Value>) -> Vec<Value> {
    let logs = reply.get("logs").and_then(Value::as_object);
    logs.into_iter().flat_map(|logs| logs.values()).filter_map(Value::as_array).flatten().cloned().collect()
}

/// What makes a line the same in the history and on the feed.
fn key(line: &Value) -> String {
    let field = |name: &str| line.get(name).map(Value::to_string).unwrap_or_default();
    format!("{}|{}|{}", field("time"), field("stream"), field("line"))
}
