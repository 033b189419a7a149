//! `GET /api/events`: server-sent events for the live pages. First one `snapshot` event (the whole
//! view), then only what changed: `node` and `watcher` (a whole row, keyed by node / node+watcher),
//! `remove` (a row that went away) and `event` (one entry of the event feed). The browser's
//! EventSource reconnects by itself and gets a fresh snapshot, which also repairs anything a
//! slow connection missed.
//!
//! Every stream ends when the master stops, so an open tab never keeps clusterd from exiting.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::Web;
use crate::view::Snapshot;

/// Node health (RTT, last seen) changes without any event: rows are compared this often.
const TICK: Duration = Duration::from_secs(1);
/// A burst of changes is sent as one round.
const SETTLE: Duration = Duration::from_millis(100);
/// How soon the browser reconnects after the stream ends.
const RETRY: Duration = Duration::from_millis(1000);

/// The rows last sent on one stream, to send only what changed.
#[derive(Default)]
struct Sent {
    nodes: BTreeMap<String, Value>,
    watchers: BTreeMap<(String, String), Value>,
    last_event: Option<u64>,
}

impl Sent {
    /// The events that bring the browser from what was sent to `snapshot`.
    fn diff(&mut self, snapshot: &Snapshot) -> Vec<Event> {
        let mut out = Vec::new();
        let mut nodes = BTreeMap::new();
        for node in &snapshot.nodes {
            let row = json!(node);
            if self.nodes.get(&node.name) != Some(&row) {
                out.push(event("node", &row));
            }
            nodes.insert(node.name.clone(), row);
        }
        for gone in self.nodes.keys().filter(|name| !nodes.contains_key(*name)) {
            out.push(event("remove", &json!({"node": gone})));
        }
        let mut watchers = BTreeMap::new();
        for watcher in &snapshot.watchers {
            let key = (watcher.node.clone(), watcher.watcher.clone());
            let row = json!(watcher);
            if self.watchers.get(&key) != Some(&row) {
                out.push(event("watcher", &row));
            }
            watchers.insert(key, row);
        }
        for (node, watcher) in self.watchers.keys().filter(|key| !watchers.contains_key(*key)) {
            out.push(event("remove", &json!({"node": node, "watcher": watcher})));
        }
        for entry in snapshot.events.iter().filter(|e| self.last_event.is_none_or(|last| e.seq > last)) {
            out.push(event("event", &json!(entry)));
        }
        self.last_event = snapshot.events.last().map(|e| e.seq).or(self.last_event);
        (self.nodes, self.watchers) = (nodes, watchers);
        out
    }
}

fn event(name: &str, data: &Value) -> Event {
    Event::default().event(name).data(data.to_string())
}

/// `GET /api/events`.
pub async fn events(State(web): State<Web>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let (tx, rx) = mpsc::channel::<Event>(256);
    let mut stopping = web.stopping.clone();
    tokio::spawn(async move {
        let mut changes = web.view.changes();
        let mut sent = Sent::default();
        let snapshot = web.view.snapshot(&web.ctx.registry);
        let first = Event::default().event("snapshot").retry(RETRY).data(json!(snapshot).to_string());
        sent.diff(&snapshot);
        if tx.send(first).await.is_err() {
            return;
        }
        let mut tick = tokio::time::interval(TICK);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                changed = changes.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    tokio::time::sleep(SETTLE).await;
                    changes.borrow_and_update();
                }
                _ = tx.closed() => return,
            }
            for update in sent.diff(&web.view.snapshot(&web.ctx.registry)) {
                // A full queue means the browser does not read: end it, it reconnects to a snapshot.
                if tx.try_send(update).is_err() {
                    return;
                }
            }
        }
    });
    let stopped = async move {
        let _ = stopping.wait_for(|stop| *stop).await;
    };
    let stream = ReceiverStream::new(rx).map(Ok).take_until(stopped);
    Sse::new(stream).keep_alive(KeepAlive::default())
}
