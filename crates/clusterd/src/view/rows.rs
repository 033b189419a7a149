//! What the view hands its readers: plain, serialisable rows (processes, watchers, nodes,
//! events) and the [`Snapshot`] holding them all.

use serde::Serialize;
use serde_json::Value;

/// One process, from its last stats message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProcessView {
    pub pid: u64,
    pub cpu: f64,
    pub mem_bytes: u64,
    /// Memory % of the node, as circusd-stats reports it (placement's score).
    pub mem: f64,
    pub age: f64,
}

/// One watcher of one node.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WatcherView {
    pub node: String,
    pub watcher: String,
    /// `active`, `stopped`... as the node's `status` or its last start/stop event says.
    pub status: Option<String>,
    /// Processes, from the last stats; 0 when stopped, `None` before any stats.
    pub processes: Option<usize>,
    /// Sum of the processes' CPU %.
    pub cpu: f64,
    /// Sum of the processes' resident memory.
    pub mem_bytes: u64,
    pub pids: Vec<ProcessView>,
}

/// One node, from the registry, with its watchers' totals and history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeView {
    pub name: String,
    pub state: String,
    pub rtt_ms: Option<f64>,
    pub last_seen: Option<f64>,
    pub missed_probes: u32,
    pub circusd_pid: Option<u64>,
    pub tags: Vec<String>,
    pub source: String,
    pub cpu: f64,
    pub mem_bytes: u64,
    /// CPU % and memory samples of the last 5 minutes, oldest first.
    pub history: Vec<(f64, u64)>,
}

/// One event of the live feed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventView {
    pub seq: u64,
    pub time: f64,
    pub node: String,
    pub watcher: Option<String>,
    pub event: String,
    pub payload: Value,
}

/// Everything the view knows at one moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    pub nodes: Vec<NodeView>,
    pub watchers: Vec<WatcherView>,
    pub events: Vec<EventView>,
}
