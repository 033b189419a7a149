//! Per-node totals of the fresh stats, without building the watcher rows: what placement scores
//! on every decision, over thousands of nodes.

use std::collections::BTreeMap;
use std::time::Instant;

use super::{ClusterView, STATS_TTL};

/// One node's processes, summed.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NodeTotals {
    /// Sum of the processes' CPU %.
    pub cpu: f64,
    /// Sum of the processes' memory % (of the node's memory).
    pub mem: f64,
    /// Processes.
    pub processes: usize,
}

impl ClusterView {
    /// The totals of every node with fresh stats (younger than [`STATS_TTL`]), by node.
    pub fn node_totals(&self) -> BTreeMap<String, NodeTotals> {
        let state = self.state();
        let now = Instant::now();
        let mut totals: BTreeMap<String, NodeTotals> = BTreeMap::new();
        for ((node, _), measured) in &state.measured {
            if measured.at.is_none_or(|at| now.duration_since(at) >= STATS_TTL) {
                continue;
            }
            let total = match totals.get_mut(node) {
                Some(total) => total,
                None => totals.entry(node.clone()).or_default(),
            };
            for process in measured.processes.values() {
                total.cpu += process.cpu;
                total.mem += process.mem;
                total.processes += 1;
            }
        }
        totals
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_sum_fresh_processes_per_node() {
        let view = ClusterView::default();
        let stat = |topic: &str, payload: &str| view.on_stat("a", topic.as_bytes(), payload.as_bytes());
        stat("stat.a-web.1", r#"{"cpu": 50.0, "mem": 1.5, "mem_info1": "1M", "age": 1.0}"#);
        stat("stat.a-web.2", r#"{"cpu": 25.0, "mem": 0.5, "mem_info1": "1M", "age": 1.0}"#);
        stat("stat.a-web", r#"{"pid": [1, 2]}"#);
        stat("stat.a-api.3", r#"{"cpu": 1.0, "mem": 1.0, "mem_info1": "1M", "age": 1.0}"#);
        let totals = view.node_totals();
        // api has had no aggregate yet: not fresh, not counted.
        assert_eq!(totals["a"], NodeTotals { cpu: 75.0, mem: 2.0, processes: 2 });
        assert_eq!(totals.len(), 1);
    }
}
