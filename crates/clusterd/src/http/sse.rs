//! `GET /api/events`: server-sent events for the live pages. First one `snapshot` event (the whole
//! view), then only what changed: `node` and `watcher` (a whole row, keyed by node / node+watcher),
//! `remove` (a row that went away) and `event` (one entry of the event feed). The browser's
//! EventSource reconnects by itself and gets a fresh snapshot, which also repairs anything a
//! slow connection missed.
//!
//! Every stream ends when the master stops, so an open tab never keeps clusterd from exiting.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::Web;

/// Stats and node health (RTT, last seen) change without any event: rows are compared this often.
const TICK: Duration = Duration::from_secs(1);
/// A burst of changes is sent as one round.
const SETTLE: Duration = Duration::from_millis(100);
/// How soon the browser reconnects after the stream ends.
const RETRY: Duration = Duration::from_millis(1000);

/// The view as rows ready to send, shared by every open stream: computed at most once per
/// [`SHARE`] (and at once after a change), however many tabs are open.
pub struct Rows {
    version: u64,
    at: Instant,
    nodes: BTreeMap<String, Value>,
    watchers: BTreeMap<(String, String), Value>,
    events: Vec<(u64, Value)>,
    /// The whole snapshot, for a new stream's first event.
    snapshot: String,
}

/// How long one computed [`Rows`] serves every stream.
const SHARE: Duration = Duration::from_millis(250);

/// The cache of [`Rows`].
#[derive(Default)]
pub struct SharedRows(Mutex<Option<Arc<Rows>>>);

impl SharedRows {
    /// The current rows, computed again when older than [`SHARE`] or the view changed since.
    fn get(&self, web: &Web) -> Arc<Rows> {
        let version = *web.view.changes().borrow();
        let mut cached = self.0.lock().expect("rows lock");
        if let Some(rows) = cached.as_ref().filter(|r| r.version == version && r.at.elapsed() < SHARE) {
            return rows.clone();
        }
        let snapshot = web.view.snapshot(&web.ctx.registry);
        let rows = Arc::new(Rows {
            version,
            at: Instant::now(),
            nodes: snapshot.nodes.iter().map(|n| (n.name.clone(), json!(n))).collect(),
            watchers: snapshot.watchers.iter().map(|w| ((w.node.clone(), w.watcher.clone()), json!(w))).collect(),
            events: snapshot.events.iter().map(|e| (e.seq, json!(e))).collect(),
            snapshot: json!(snapshot).to_string(),
        });
        *cached = Some(rows.clone());
        rows
    }
}

/// What one stream sent last, to send only what changed.
#[derive(Default)]
struct Sent {
    rows: Option<Arc<Rows>>,
    last_event: Option<u64>,
}

impl Sent {
    /// The events that bring the browser from what was sent to `rows`.
    fn diff(&mut self, rows: Arc<Rows>) -> Vec<Event> {
        let mut out = Vec::new();
        let empty = (BTreeMap::new(), BTreeMap::new());
        let (old_nodes, old_watchers) = match &self.rows {
            Some(old) => (&old.nodes, &old.watchers),
            None => (&empty.0, &empty.1),
        };
        for (name, row) in &rows.nodes {
            if old_nodes.get(name) != Some(row) {
                out.push(event("node", row));
            }
        }
        for gone in old_nodes.keys().filter(|name| !rows.nodes.contains_key(*name)) {
            out.push(event("remove", &json!({"node": gone})));
        }
        for (key, row) in &rows.watchers {
            if old_watchers.get(key) != Some(row) {
                out.push(event("watcher", row));
            }
        }
        for (node, watcher) in old_watchers.keys().filter(|key| !rows.watchers.contains_key(*key)) {
            out.push(event("remove", &json!({"node": node, "watcher": watcher})));
        }
        for (_, entry) in rows.events.iter().filter(|(seq, _)| self.last_event.is_none_or(|last| *seq > last)) {
            out.push(event("event", entry));
        }
        self.last_event = rows.events.last().map(|(seq, _)| *seq).or(self.last_event);
        self.rows = Some(rows);
        out
    }
}

pub(super) fn event(name: &str, data: &Value) -> Event {
    Event::default().event(name).data(data.to_string())
}

/// The SSE response of the events `rx` receives, ended when the master stops (an open stream
/// must not keep it from exiting).
pub(super) fn until_stopped(
    web: &Web,
    rx: mpsc::Receiver<Event>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let mut stopping = web.stopping.clone();
    let stopped = async move {
        let _ = stopping.wait_for(|stop| *stop).await;
    };
    Sse::new(ReceiverStream::new(rx).map(Ok).take_until(stopped)).keep_alive(KeepAlive::default())
}

/// `GET /api/events`.
pub async fn events(State(web): State<Web>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let (tx, rx) = mpsc::channel::<Event>(256);
    let response = until_stopped(&web, rx);
    tokio::spawn(async move {
        let mut changes = web.view.changes();
        let mut sent = Sent::default();
        let rows = web.rows.get(&web);
        let first = Event::default().event("snapshot").retry(RETRY).data(rows.snapshot.clone());
        sent.diff(rows);
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
            for update in sent.diff(web.rows.get(&web)) {
                // A full queue means the browser does not read: end it, it reconnects to a snapshot.
                if tx.try_send(update).is_err() {
                    return;
                }
            }
        }
    });
    response
}
