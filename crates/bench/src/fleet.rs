//! Setting up what the benchmarks measure: simnode processes, a quiet clusterd over them, and
//! waits that say what they wait for.

use std::time::{Duration, Instant};

use cluster_e2e::master::CLUSTER_SECTION;
use cluster_e2e::{Client, Master, SimNodes, Value};

/// Most nodes one simnode process hosts (each node holds 3 sockets and their descriptors).
pub const PER_PROCESS: usize = 1000;

/// `total` simulated nodes in processes of at most [`PER_PROCESS`], named `g<k>-<n>` when there
/// are several processes and `sim<n>` otherwise.
pub fn simnodes(total: usize, args: &[&str]) -> Vec<SimNodes> {
    let groups = total.div_ceil(PER_PROCESS).max(1);
    (0..groups)
        .map(|k| {
            let count = PER_PROCESS.min(total - k * PER_PROCESS);
            let prefix = if groups == 1 { "sim".to_string() } else { format!("g{}-", k + 1) };
            let mut all = vec!["--name-prefix", prefix.as_str()];
            all.extend_from_slice(args);
            SimNodes::start(count, &all)
        })
        .collect()
}

/// A clusterd at its default log level with `nodes` as static config sections.
pub fn master_over(groups: &[&SimNodes], extra: &str) -> Master {
    let mut text = format!("{CLUSTER_SECTION}{extra}");
    for group in groups {
        text.push_str(&group.config_sections());
    }
    Master::start_quiet(&text)
}

/// The benchmarks build requests with the protocol crate's one builder.
pub use clusterd_protocol::request;

/// How many nodes `master` lists, and how many of them are alive.
pub fn census(master: &Master) -> (usize, usize) {
    let Ok(client) = Client::connect(&master.endpoint, Duration::from_secs(20)) else { return (0, 0) };
    let Ok(reply) = client.call(&request("nodes", serde_json::json!({}))) else { return (0, 0) };
    let nodes = reply.0.get("nodes").and_then(Value::as_array).cloned().unwrap_or_default();
    (nodes.len(), nodes.iter().filter(|n| n["state"] == "alive").count())
}

/// Waits until `master` lists `count` nodes, all alive.
///
/// # Panics
/// When that takes longer than `within`.
pub fn wait_alive(master: &Master, count: usize, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let (listed, alive) = census(master);
        if listed == count && alive == count {
            return started.elapsed();
        }
        assert!(started.elapsed() < within, "{alive} of {count} nodes alive ({listed} listed) after {within:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Samples `probe` `n` times, `every` apart, and returns the median of the readings it got;
/// `None` when it got none.
pub fn median_sample(n: usize, every: Duration, mut probe: impl FnMut() -> Option<f64>) -> Option<f64> {
    let mut values: Vec<f64> = (0..n)
        .filter_map(|i| {
            if i > 0 {
                std::thread::sleep(every);
            }
            probe()
        })
        .collect();
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied()
}
