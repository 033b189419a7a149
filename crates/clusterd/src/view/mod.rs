//! The cluster-state view: what the dashboard, `/api/*` and `/metrics` show, kept from the
//! stream tap (process CPU/memory, events) and the registry (nodes, their health, and the
//! watchers each node reports to a periodic `status`).
//!
//! One `std::sync::Mutex` around plain maps, never held across an `.await`. Readers take a
//! [`Snapshot`] (plain data, serialisable); the version in [`ClusterView::changes`] moves on
//! every event and status change so that live pages know when to look again (not on stats,
//! which change all the time: readers pick those up on their own clock).

mod history;
mod rows;
mod stats;
mod task;
mod totals;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::watch;

pub use history::{History, HISTORY_SAMPLES, HISTORY_STEP};
pub use rows::{EventView, NodeView, ProcessView, Snapshot, WatcherView};
pub use stats::{event_topic, human_bytes, watcher_stat, EventTopic, WatcherStat};
pub use task::start;
pub use totals::NodeTotals;

use crate::registry::Registry;

/// Events kept for the live feed.
pub const RECENT_EVENTS: usize = 200;
/// A watcher whose stats stopped coming this long ago shows no processes from stats any more
/// (circusd-stats publishes about every second; a stopped watcher is simply no longer sent).
pub const STATS_TTL: Duration = Duration::from_secs(5);

/// What stats said of one watcher.
#[derive(Debug, Default)]
struct Measured {
    processes: BTreeMap<u64, ProcessView>,
    /// When the last aggregate came (its pid list is authoritative).
    at: Option<Instant>,
}

#[derive(Debug, Default)]
struct State {
    /// Status per (node, watcher), from `status` replies and start/stop events.
    statuses: BTreeMap<(String, String), String>,
    measured: BTreeMap<(String, String), Measured>,
    events: VecDeque<EventView>,
    next_event: u64,
    history: BTreeMap<String, History>,
}

/// The view; shared as `Arc<ClusterView>`.
pub struct ClusterView {
    state: Mutex<State>,
    version: watch::Sender<u64>,
}

impl Default for ClusterView {
    fn default() -> Self {
        ClusterView { state: Mutex::default(), version: watch::channel(0).0 }
    }
}

impl ClusterView {
    /// Moves on whenever an event came or a node's watchers changed.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("view lock")
    }

    fn bump(&self) {
        self.version.send_modify(|v| *v += 1);
    }

    /// Takes in one stats message of `node`.
    pub fn on_stat(&self, node: &str, topic: &[u8], payload: &[u8]) {
        let Some(stat) = watcher_stat(node, topic, payload) else { return };
        let mut state = self.state();
        match stat {
            WatcherStat::Process { watcher, pid, cpu, mem_bytes, mem, age } => {
                let measured = state.measured.entry((node.to_string(), watcher)).or_default();
                measured.processes.insert(pid, ProcessView { pid, cpu, mem_bytes, mem, age });
            }
            WatcherStat::Aggregate { watcher, pids } => {
                let measured = state.measured.entry((node.to_string(), watcher)).or_default();
                measured.processes.retain(|pid, _| pids.contains(pid));
                // No bump: stats come several times a second per watcher; readers look at
                // them on their own clock (the event stream's one-second tick).
                measured.at = Some(Instant::now());
            }
        }
    }

    /// Takes in one event of `node`; returns its watcher and event name.
    pub fn on_event(&self, node: &str, topic: &[u8], payload: &[u8]) -> Option<EventTopic> {
        let parsed = event_topic(node, topic)?;
        let payload: Value = serde_json::from_slice(payload).unwrap_or(Value::Null);
        let time = payload.get("time").and_then(Value::as_f64).unwrap_or_else(clusterd_protocol::message::now);
        let mut state = self.state();
        if let Some(watcher) = &parsed.watcher {
            let key = (node.to_string(), watcher.clone());
            match parsed.event.as_str() {
                "start" => drop(state.statuses.insert(key, "active".into())),
                "stop" => {
                    state.statuses.insert(key.clone(), "stopped".into());
                    state.measured.remove(&key);
                }
                _ => {}
            }
        }
        let seq = state.next_event;
        state.next_event += 1;
        let event = EventView {
            seq,
            time,
            node: node.into(),
            watcher: parsed.watcher.clone(),
            event: parsed.event.clone(),
            payload,
        };
        state.events.push_back(event);
        while state.events.len() > RECENT_EVENTS {
            state.events.pop_front();
        }
        drop(state);
        self.bump();
        Some(parsed)
    }

    /// Replaces what `node`'s `status` reply said of its watchers (`{"statuses": {...}}`).
    pub fn set_statuses(&self, node: &str, statuses: &BTreeMap<String, String>) {
        let mut state = self.state();
        state.statuses.retain(|(n, w), _| n != node || statuses.contains_key(w));
        state.measured.retain(|(n, w), _| n != node || statuses.contains_key(w));
        let mut changed = false;
        for (watcher, status) in statuses {
            let old = state.statuses.insert((node.to_string(), watcher.clone()), status.clone());
            changed |= old.as_ref() != Some(status);
        }
        drop(state);
        if changed {
            self.bump();
        }
    }

    /// Forgets nodes that left the registry.
    pub fn retain_nodes(&self, names: &[String]) {
        let mut state = self.state();
        let known = |n: &String| names.contains(n);
        state.statuses.retain(|(n, _), _| known(n));
        state.measured.retain(|(n, _), _| known(n));
        state.history.retain(|n, _| known(n));
    }

    /// The watchers of every node, sorted by node then watcher.
    pub fn watchers(&self) -> Vec<WatcherView> {
        let state = self.state();
        let now = Instant::now();
        let mut rows: BTreeMap<(String, String), WatcherView> = BTreeMap::new();
        for ((node, watcher), status) in &state.statuses {
            let row = WatcherView {
                node: node.clone(),
                watcher: watcher.clone(),
                status: Some(status.clone()),
                processes: (status == "stopped").then_some(0),
                cpu: 0.0,
                mem_bytes: 0,
                pids: Vec::new(),
            };
            rows.insert((node.clone(), watcher.clone()), row);
        }
        for (key, measured) in &state.measured {
            let fresh = measured.at.is_some_and(|at| now.duration_since(at) < STATS_TTL);
            let stopped = state.statuses.get(key).is_some_and(|s| s == "stopped");
            if !fresh || stopped {
                continue;
            }
            let row = rows.entry(key.clone()).or_insert_with(|| WatcherView {
                node: key.0.clone(),
                watcher: key.1.clone(),
                status: None,
                processes: None,
                cpu: 0.0,
                mem_bytes: 0,
                pids: Vec::new(),
            });
            row.pids = measured.processes.values().cloned().collect();
            row.processes = Some(row.pids.len());
            row.cpu = row.pids.iter().map(|p| p.cpu).sum();
            row.mem_bytes = row.pids.iter().map(|p| p.mem_bytes).sum();
        }
        rows.into_values().collect()
    }

    /// Records one history sample per node from its watchers' totals (called every
    /// [`HISTORY_STEP`]).
    pub fn sample_history(&self, names: &[String]) {
        let watchers = self.watchers();
        let mut state = self.state();
        for name in names {
            let mine = watchers.iter().filter(|w| &w.node == name);
            let (cpu, mem) = mine.fold((0.0, 0), |(c, m), w| (c + w.cpu, m + w.mem_bytes));
            state.history.entry(name.clone()).or_default().push(cpu, mem);
        }
    }

    /// Everything, with the nodes' health read from `registry` now.
    pub fn snapshot(&self, registry: &Registry) -> Snapshot {
        let watchers = self.watchers();
        let state = self.state();
        let nodes = registry
            .all()
            .iter()
            .map(|node| {
                let health = node.link.health();
                let mine = watchers.iter().filter(|w| w.node == node.name);
                let (cpu, mem_bytes) = mine.fold((0.0, 0), |(c, m), w| (c + w.cpu, m + w.mem_bytes));
                NodeView {
                    name: node.name.clone(),
                    state: health.state.as_str().into(),
                    rtt_ms: health.rtt.map(|rtt| (rtt.as_secs_f64() * 1e6).round() / 1e3),
                    last_seen: health.last_seen,
                    missed_probes: health.missed,
                    circusd_pid: health.circusd_pid,
                    tags: node.tags.clone(),
                    source: node.source.as_str().into(),
                    cpu,
                    mem_bytes,
                    history: state.history.get(&node.name).map(History::points).unwrap_or_default(),
                }
            })
            .collect();
        Snapshot { nodes, watchers, events: state.events.iter().cloned().collect() }
    }
}

#[cfg(test)]
mod tests;
