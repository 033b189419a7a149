//! Proxy overhead: `status NAME` straight to a node vs through clusterd, for a real circusd and
//! for a simnode, in the same run, interleaved so that machine noise hits both alike.

use std::time::{Duration, Instant};

use cluster_e2e::master::node_section;
use cluster_e2e::{CircusNode, Client, SimNodes};
use serde_json::json;

use crate::fleet::{master_over, request, wait_alive};
use crate::report::{verdict, Section, Table};
use crate::stats::{micros, Percentiles, Spread};

/// How much to measure.
pub struct Plan {
    /// Runs (each gives its own p50 and p99).
    pub rounds: usize,
    /// Requests per path per run.
    pub requests: usize,
}

/// One target: a node reached straight and through the master.
struct Target {
    label: &'static str,
    direct: String,
    name: &'static str,
    qualified: &'static str,
}

/// Runs the benchmark.
pub fn run(plan: &Plan, command: String) -> Section {
    let circus = CircusNode::start("real", &[("dummy", 1)]);
    let sims = SimNodes::start(1, &["--name-prefix", "sim"]);
    let master = master_over(&[&sims], &node_section(&circus));
    wait_alive(&master, 2, Duration::from_secs(30));
    let targets = [
        Target { label: "circusd 0.19", direct: circus.endpoint.clone(), name: "dummy", qualified: "real:dummy" },
        Target { label: "simnode", direct: sims.nodes[0].endpoint.clone(), name: "w0", qualified: "sim1:w0" },
    ];
    let mut table = Table::new(&[
        "node",
        "direct p50 µs",
        "direct p99 µs",
        "via clusterd p50 µs",
        "via clusterd p99 µs",
        "added at p50 µs",
        "ratio at p50",
    ]);
    let mut added_circus = 0.0;
    for target in &targets {
        let rounds: Vec<(Percentiles, Percentiles)> =
            (0..plan.rounds).map(|round| measure(target, &master.endpoint, plan.requests, round)).collect();
        let spread =
            |f: &dyn Fn(&(Percentiles, Percentiles)) -> f64| Spread::of(&rounds.iter().map(f).collect::<Vec<_>>());
        let added = spread(&|(d, m)| micros(m.p50) - micros(d.p50));
        if target.label.starts_with("circusd") {
            added_circus = added.median;
        }
        table.row(vec![
            target.label.to_string(),
            spread(&|(d, _)| micros(d.p50)).show(0),
            spread(&|(d, _)| micros(d.p99)).show(0),
            spread(&|(_, m)| micros(m.p50)).show(0),
            spread(&|(_, m)| micros(m.p99)).show(0),
            added.show(0),
            spread(&|(d, m)| micros(m.p50) / micros(d.p50)).show(2),
        ]);
    }
    let setup = format!(
        "Round trips of `status NAME` from one blocking DEALER client (the protocol crate's `Client`, \
         matching replies by `id` as `CircusClient` does), one request at a time: straight to the node \
         (the baseline) and through clusterd (`node:NAME`). {} runs of {} requests per path after 200 \
         warm-up requests; within a run the two paths alternate in blocks of 50. Cells: median over runs \
         (lowest–highest run).",
        plan.rounds, plan.requests
    );
    let verdict = vec![format!(
        "Target: the hop adds at most 100 µs at p50. Against real circusd it adds {added_circus:.0} µs: {}.",
        verdict(added_circus <= 100.0)
    )];
    Section { title: "Proxy overhead".into(), command, setup, table, verdict }
}

/// One run: `requests` round trips on each path, alternating in blocks.
fn measure(target: &Target, master: &str, requests: usize, round: usize) -> (Percentiles, Percentiles) {
    let direct = Client::connect(&target.direct, Duration::from_secs(5)).expect("client to the node");
    let through = Client::connect(master, Duration::from_secs(5)).expect("client to clusterd");
    let straight = request("status", json!({"name": target.name}));
    let proxied = request("status", json!({"name": target.qualified}));
    let time = |client: &Client, req: &cluster_e2e::Request| {
        let started = Instant::now();
        let reply = client.call(req).expect("reply");
        assert_eq!(reply.status(), Some("active"), "{:?}", reply.0);
        started.elapsed()
    };
    for _ in 0..200 {
        time(&direct, &straight);
        time(&through, &proxied);
    }
    let (mut d, mut m) = (Vec::with_capacity(requests), Vec::with_capacity(requests));
    let mut block = 0;
    while d.len() < requests {
        let n = 50.min(requests - d.len());
        // Alternate which path goes first, so neither always runs on a warmer cache.
        if (block + round).is_multiple_of(2) {
            d.extend((0..n).map(|_| time(&direct, &straight)));
            m.extend((0..n).map(|_| time(&through, &proxied)));
        } else {
            m.extend((0..n).map(|_| time(&through, &proxied)));
            d.extend((0..n).map(|_| time(&direct, &straight)));
        }
        block += 1;
    }
    (Percentiles::of(&d), Percentiles::of(&m))
}
