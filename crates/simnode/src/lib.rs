//! `simnode`: many simulated circusd nodes in one process, for clusterd's benchmarks and scale
//! tests (never as the only proof that something works with Circus: the e2e tests use real
//! circusd for that).
//!
//! Each simulated node binds a command ROUTER, an event PUB and a stats PUB, answers the
//! commands in [`commands::SIMULATED`] as circusd 0.19 does, publishes a circusd-stats-shaped
//! stream every `stats_interval`, and events when its processes change. Optionally, nodes
//! "restart" at random (sockets closed, then bound again on the same ports, with a new circusd
//! pid), as a flapping fleet does.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

pub mod commands;
pub mod info;
mod node;
mod publish;
pub mod watchers;

pub use node::{Node, SimError};
pub use publish::{Control, Schedule};

/// What to simulate.
#[derive(Debug, Clone)]
pub struct Options {
    /// How many nodes.
    pub nodes: usize,
    /// Interface to bind (`127.0.0.1`).
    pub host: String,
    /// Node `i` binds ports `base + 3i` (command), `+1` (events), `+2` (stats); without it,
    /// the system picks free ports.
    pub base_port: Option<u16>,
    /// Node names: this prefix and the node's number, zero-padded (`sim001`).
    pub name_prefix: String,
    /// Watchers per node.
    pub watchers: usize,
    /// Processes per watcher.
    pub processes: usize,
    /// Interval between two stats cycles (circusd-stats: 1 s).
    pub stats_interval: Duration,
    /// Delay before the first stats cycle.
    pub stats_delay: Duration,
    /// Stop publishing stats after this many cycles (`None`: never).
    pub stats_cycles: Option<u64>,
    /// Mean time between two simulated restarts of a node (`None`: no restarts).
    pub restart_mean: Option<Duration>,
    /// How long a restarting node stays unreachable.
    pub restart_downtime: Duration,
    /// Restarts happen only this long after the start (`None`: for ever): a soak test ends
    /// with a quiet fleet, so it can check that every node settles back.
    pub restarts_for: Option<Duration>,
    /// Seed of the restart schedule.
    pub seed: u64,
}

/// Process-wide counters, answered by the `simnode` command.
#[derive(Debug, Default)]
pub struct Counters {
    /// Stats messages handed to the PUB sockets.
    pub stats: AtomicU64,
    /// Events handed to the PUB sockets.
    pub events: AtomicU64,
    /// Requests answered.
    pub requests: AtomicU64,
    /// Simulated restarts.
    pub restarts: AtomicU64,
    /// Stats cycles completed (over all nodes).
    pub cycles: AtomicU64,
}

impl Counters {
    /// The counters as the `simnode` command's reply fields.
    pub fn to_json(&self, nodes: usize) -> Value {
        json!({
            "nodes": nodes,
            "published_stats": self.stats.load(Ordering::Relaxed),
            "published_events": self.events.load(Ordering::Relaxed),
            "requests": self.requests.load(Ordering::Relaxed),
            "restarts": self.restarts.load(Ordering::Relaxed),
            "stats_cycles": self.cycles.load(Ordering::Relaxed),
        })
    }
}

/// Binds every node, prints one JSON line per node on stdout (`name`, `endpoint`,
/// `pubsub_endpoint`, `stats_endpoint`), then serves until `shutdown` completes.
///
/// # Errors
/// A node's endpoints cannot be bound.
pub async fn run(options: Options, shutdown: impl std::future::Future<Output = ()>) -> Result<(), SimError> {
    let ctx = clusterd_protocol::connection::Context::new();
    let counters = Arc::new(Counters::default());
    let width = options.nodes.to_string().len();
    let mut nodes = Vec::with_capacity(options.nodes);
    for i in 0..options.nodes {
        let name = format!("{}{:0width$}", options.name_prefix, i + 1);
        let ports = options.base_port.map(|base| base + 3 * i as u16);
        nodes.push(Node::bind(&ctx, name, &options, ports)?);
    }
    let mut manifest = String::new();
    for (node, _) in &nodes {
        manifest.push_str(&node.manifest_line());
        manifest.push('\n');
    }
    print!("{manifest}");
    use std::io::Write;
    let _ = std::io::stdout().flush();

    let stop = Arc::new(AtomicBool::new(false));
    let control = Arc::new(Control::new(Schedule { interval: options.stats_interval, cycles: options.stats_cycles }));
    let publisher = {
        let nodes: Vec<Arc<Node>> = nodes.iter().map(|(node, _)| node.clone()).collect();
        let (delay, counters, stop, control) = (options.stats_delay, counters.clone(), stop.clone(), control.clone());
        std::thread::spawn(move || publish::stats_loop(&nodes, &control, delay, &counters, &stop))
    };
    let total = nodes.len();
    let mut rng = fastrand::Rng::with_seed(options.seed);
    let restarts_until = options.restarts_for.map(|period| tokio::time::Instant::now() + period);
    for (node, server) in nodes {
        let restarts = options
            .restart_mean
            .map(|mean| node::Restarts::new(mean, options.restart_downtime, rng.u64(..), restarts_until));
        let shared = node::Shared { counters: counters.clone(), control: control.clone(), total };
        tokio::spawn(node::serve(node, ctx.clone(), server, restarts, shared));
    }
    shutdown.await;
    stop.store(true, Ordering::Relaxed);
    let _ = publisher.join();
    Ok(())
}
