//! What `top` knows: processes grouped by node and watcher, sockets, and the master's node
//! states. Updated from decoded messages, aged by a clock the caller passes in (`now`), so that
//! tests can move time; it never draws.
//!
//! Lifetimes follow circus-top: a process not refreshed for the process timeout drops out, and a
//! watcher or node with no process left drops out with it. One improvement: a watcher's
//! aggregate (sent right after its per-process messages) lists its live pids, so a process it no
//! longer lists (after `decr`, `kill`) goes at once instead of after the timeout.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::decode::{self, ProcessStat, Stat};

/// How rows are ordered (keys `c`, `m`, `n`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// Highest CPU first: processes, and watchers by their CPU sum. The default.
    #[default]
    Cpu,
    /// Highest memory first, the same way.
    Mem,
    /// By name: processes by name then pid, watchers by name.
    Name,
}

impl Sort {
    /// The label shown in the title bar.
    pub fn label(self) -> &'static str {
        match self {
            Sort::Cpu => "CPU",
            Sort::Mem => "MEM",
            Sort::Name => "name",
        }
    }
}

/// One process row.
#[derive(Debug, Clone, PartialEq)]
pub struct Process {
    /// Its last figures.
    pub stat: ProcessStat,
    /// When they arrived.
    seen: Instant,
}

/// Totals of a group of processes: CPU and memory summed, age the oldest.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Totals {
    /// How many processes.
    pub processes: usize,
    /// Sum of the known CPU figures (`None` when none is known).
    pub cpu: Option<f64>,
    /// Sum of the known memory figures.
    pub mem: Option<f64>,
    /// The oldest known age.
    pub age: Option<f64>,
}

/// Processes of one watcher, by pid.
type Watcher = BTreeMap<u64, Process>;

/// Everything received so far. Nodes are keyed by name; `None` is a plain circusd's only node.
#[derive(Debug)]
pub struct Model {
    /// `--process-timeout`.
    timeout: Duration,
    /// node → watcher → pid → process.
    nodes: BTreeMap<Option<String>, BTreeMap<String, Watcher>>,
    /// `stat.sockets.<key>` entries, with when they arrived.
    sockets: BTreeMap<String, (Socket, Instant)>,
    /// The master's node states, `None` until (or unless) a `nodes` poll succeeds.
    states: Option<BTreeMap<String, String>>,
    /// Some payload carried `node`: topics are `<node>-<watcher>` even when a payload lacks it.
    master_stream: bool,
    /// Stats messages received, ignored ones included.
    pub received: u64,
    /// Stats messages ignored because of their shape.
    pub ignored: u64,
}

/// One listening socket of the stats stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Socket {
    /// `address` (node-qualified on a master).
    pub address: String,
    /// The node, when the payload says.
    pub node: Option<String>,
    /// Reads since the previous publication.
    pub reads: Option<f64>,
}

/// A node as shown: its state (when the master told), its watchers in display order, totals.
#[derive(Debug)]
pub struct NodeView<'a> {
    /// The node's name; `None` for a plain circusd.
    pub name: Option<&'a str>,
    /// `alive`, `suspect`, `down` as the master last said.
    pub state: Option<&'a str>,
    /// Watchers in display order.
    pub watchers: Vec<WatcherView<'a>>,
    /// Totals over the node.
    pub total: Totals,
}

/// A watcher as shown.
#[derive(Debug)]
pub struct WatcherView<'a> {
    /// The watcher's name on its node (`circus` holds circusd and circusd-stats).
    pub name: &'a str,
    /// Processes in display order.
    pub processes: Vec<&'a ProcessStat>,
    /// Totals over the watcher.
    pub total: Totals,
}

// === impl Model ===

impl Model {
    /// An empty model whose processes expire after `timeout` without news.
    pub fn new(timeout: Duration) -> Self {
        Model {
            timeout,
            nodes: BTreeMap::new(),
            sockets: BTreeMap::new(),
            states: None,
            master_stream: false,
            received: 0,
            ignored: 0,
        }
    }

    /// Applies one stats publication received at `now`; returns whether it was understood.
    pub fn apply(&mut self, topic: &[u8], payload: &[u8], now: Instant) -> bool {
        self.received += 1;
        let Some(stat) = decode::stat(topic, payload) else {
            self.ignored += 1;
            return false;
        };
        match stat {
            Stat::Process { component, node, process } => {
                let (node, watcher) = self.locate(&component, node);
                let watchers = self.nodes.entry(node).or_default();
                watchers.entry(watcher).or_default().insert(process.pid, Process { stat: process, seen: now });
            }
            Stat::Aggregate { component, node, pids } => {
                let (node, watcher) = self.locate(&component, node);
                if let (Some(pids), Some(watchers)) = (pids, self.nodes.get_mut(&node)) {
                    if let Some(processes) = watchers.get_mut(&watcher) {
                        processes.retain(|pid, _| pids.contains(pid));
                    }
                }
                self.prune();
            }
            Stat::Socket { key, node, address, reads } => {
                self.master_stream |= node.is_some();
                self.sockets.insert(key, (Socket { address, node, reads }, now));
            }
            Stat::SocketTotal { .. } => {}
        }
        true
    }

    /// Records the master's answer to `nodes`: `(name, state)` pairs, or `None` when the poll
    /// failed (no master there, or a plain circusd): node states are then unknown.
    pub fn set_node_states(&mut self, states: Option<Vec<(String, String)>>) {
        self.states = states.map(|states| states.into_iter().collect());
    }

    /// Drops processes and sockets older than the timeout at `now`, then empty watchers and nodes.
    pub fn expire(&mut self, now: Instant) {
        let fresh = |seen: Instant| now.saturating_duration_since(seen) <= self.timeout;
        for watchers in self.nodes.values_mut() {
            for processes in watchers.values_mut() {
                processes.retain(|_, process| fresh(process.seen));
            }
        }
        self.sockets.retain(|_, (_, seen)| fresh(*seen));
        self.prune();
    }

    /// Nodes in display order, by name (a plain circusd's unnamed node first). The nodes the
    /// master listed that have sent nothing are included, with no watchers.
    pub fn nodes(&self, sort: Sort) -> Vec<NodeView<'_>> {
        let mut views: Vec<NodeView<'_>> = self
            .nodes
            .iter()
            .map(|(name, watchers)| {
                let mut watchers: Vec<WatcherView<'_>> = watchers
                    .iter()
                    .map(|(name, processes)| {
                        let mut processes: Vec<&ProcessStat> = processes.values().map(|p| &p.stat).collect();
                        processes.sort_by(|a, b| compare_processes(a, b, sort));
                        WatcherView { name, total: totals(&processes), processes }
                    })
                    .collect();
                watchers.sort_by(|a, b| compare_watchers(a, b, sort));
                let all: Vec<&ProcessStat> = watchers.iter().flat_map(|w| w.processes.iter().copied()).collect();
                let name = name.as_deref();
                NodeView { name, state: name.and_then(|n| self.state(n)), total: totals(&all), watchers }
            })
            .collect();
        if let Some(states) = &self.states {
            let silent = states.iter().filter(|(name, _)| !self.nodes.contains_key(&Some(name.to_string())));
            views.extend(silent.map(|(name, state)| NodeView {
                name: Some(name),
                state: Some(state),
                watchers: Vec::new(),
                total: Totals::default(),
            }));
            views.sort_by(|a, b| a.name.cmp(&b.name));
        }
        views
    }

    /// Totals over every process shown.
    pub fn total(&self) -> Totals {
        let all: Vec<&ProcessStat> =
            self.nodes.values().flat_map(|w| w.values()).flat_map(|p| p.values()).map(|p| &p.stat).collect();
        totals(&all)
    }

    /// Sockets by address.
    pub fn sockets(&self) -> Vec<&Socket> {
        let mut sockets: Vec<&Socket> = self.sockets.values().map(|(socket, _)| socket).collect();
        sockets.sort_by(|a, b| a.address.cmp(&b.address));
        sockets
    }

    /// The master's state for node `name`, if a poll told.
    pub fn state(&self, name: &str) -> Option<&str> {
        self.states.as_ref()?.get(name).map(String::as_str)
    }

    /// Whether the master's node states are known (the last `nodes` poll succeeded).
    pub fn states_known(&self) -> bool {
        self.states.is_some()
    }

    /// Where a component belongs (see [`decode::locate`]); notes a master's stream.
    fn locate(&mut self, component: &str, node: Option<String>) -> (Option<String>, String) {
        self.master_stream |= node.is_some();
        let known = self.states.iter().flat_map(|states| states.keys().map(String::as_str));
        decode::locate(component, node.as_deref(), known, self.master_stream)
    }

    /// Removes watchers without processes and nodes without watchers.
    fn prune(&mut self) {
        for watchers in self.nodes.values_mut() {
            watchers.retain(|_, processes| !processes.is_empty());
        }
        self.nodes.retain(|_, watchers| !watchers.is_empty());
    }
}

/// CPU and memory summed over known figures, age the maximum.
fn totals(processes: &[&ProcessStat]) -> Totals {
    let sum = |values: Vec<f64>| (!values.is_empty()).then(|| values.iter().sum());
    Totals {
        processes: processes.len(),
        cpu: sum(processes.iter().filter_map(|p| p.cpu).collect()),
        mem: sum(processes.iter().filter_map(|p| p.mem).collect()),
        age: processes.iter().filter_map(|p| p.age).reduce(f64::max),
    }
}

/// Descending by a figure, unknown figures last.
fn descending(a: Option<f64>, b: Option<f64>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => b.total_cmp(&a),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// Process order for `sort`; ties by pid.
fn compare_processes(a: &ProcessStat, b: &ProcessStat, sort: Sort) -> Ordering {
    let key = match sort {
        Sort::Cpu => descending(a.cpu, b.cpu),
        Sort::Mem => descending(a.mem, b.mem),
        Sort::Name => a.name.cmp(&b.name),
    };
    key.then(a.pid.cmp(&b.pid))
}

/// Watcher order for `sort` (by their totals); ties by name.
fn compare_watchers(a: &WatcherView<'_>, b: &WatcherView<'_>, sort: Sort) -> Ordering {
    let key = match sort {
        Sort::Cpu => descending(a.total.cpu, b.total.cpu),
        Sort::Mem => descending(a.total.mem, b.total.mem),
        Sort::Name => Ordering::Equal,
    };
    key.then(a.name.cmp(b.name))
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
