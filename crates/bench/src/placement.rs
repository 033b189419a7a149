//! Placement: one placement decision (`add` with `dry_run`, so that nothing is started) over
//! 1,000 simnodes, scored from the stats window of the cluster view, beside a `status` fan-out
//! to the same nodes in the same run.

use std::time::{Duration, Instant};

use cluster_e2e::Client;
use serde_json::{json, Value};

use crate::fleet::{master_over, request, simnodes, wait_alive};
use crate::report::{verdict, Section, Table};
use crate::stats::{millis, Percentiles};

/// How much to measure.
pub struct Plan {
    /// Nodes.
    pub nodes: usize,
    /// Decisions (and fan-outs) measured.
    pub repeats: usize,
}

/// Runs the benchmark.
pub fn run(plan: &Plan, command: String) -> Section {
    let groups = simnodes(plan.nodes, &[]);
    let master = master_over(&groups.iter().collect::<Vec<_>>(), "");
    wait_alive(&master, plan.nodes, Duration::from_secs(120));
    let client = Client::connect(&master.endpoint, Duration::from_secs(60)).expect("client to clusterd");
    let decide = request("add", json!({"name": "bench", "cmd": "sleep 3600", "dry_run": true}));
    // Every node scored from its stats before anything is measured.
    let started = Instant::now();
    loop {
        let reply = client.call(&decide).expect("dry run reply");
        let scores = reply.0.get("scores").and_then(Value::as_array).cloned().unwrap_or_default();
        let measured = scores.iter().filter(|s| s["processes"].as_u64().unwrap_or(0) > 0).count();
        if scores.len() == plan.nodes && measured == plan.nodes {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "{measured} of {} nodes measured", plan.nodes);
        std::thread::sleep(Duration::from_millis(500));
    }
    let width = plan.nodes.to_string().len();
    let fan_out = request("status", json!({"node": format!("sim[{:0width$}-{:0width$}]", 1, plan.nodes)}));
    // The decision as the master timed it (`decision_ms` of each dry run).
    let mut inside = Vec::new();
    let mut time = |req: &cluster_e2e::Request| -> Vec<Duration> {
        (0..plan.repeats)
            .map(|_| {
                let started = Instant::now();
                let reply = client.call(req).expect("reply");
                let took = started.elapsed();
                assert!(!reply.is_error(), "{:?}", reply.0.get("reason"));
                if let Some(ms) = reply.0.get("decision_ms").and_then(Value::as_f64) {
                    inside.push(Duration::from_secs_f64(ms / 1e3));
                }
                took
            })
            .collect()
    };
    let (round_trips, fan_outs) = (Percentiles::of(&time(&decide)), Percentiles::of(&time(&fan_out)));
    let decisions = Percentiles::of(&inside);
    let mut table = Table::new(&[
        "nodes",
        "decision p50 ms",
        "p99 ms",
        "dry-run round trip p50 ms",
        "p99 ms",
        "status fan-out p50 ms",
        "p99 ms",
    ]);
    table.row(vec![
        plan.nodes.to_string(),
        format!("{:.2}", millis(decisions.p50)),
        format!("{:.2}", millis(decisions.p99)),
        format!("{:.2}", millis(round_trips.p50)),
        format!("{:.2}", millis(round_trips.p99)),
        format!("{:.1}", millis(fan_outs.p50)),
        format!("{:.1}", millis(fan_outs.p99)),
    ]);
    let setup = format!(
        "{} simnodes (2 watchers × 2 processes each, stats at 1 Hz) in one process, static nodes of one \
         clusterd. A decision is `add` with `dry_run: true` and no node: it ranks every node from the stats \
         window and answers the choice with all {} scores. The decision column is the master's own timing \
         of the choice (`decision_ms`: loads, eligibility, ranking); the round trip, timed at the client, \
         adds the request and the reply's encoding and decoding. Beside it: `status` with \
         `node` = `sim[1-N]`, every node's reply gathered. {} of each, after every node had been measured.",
        plan.nodes, plan.nodes, plan.repeats
    );
    let ms = millis(decisions.p50);
    let verdict = vec![format!(
        "Target: the decision under 5 ms at 1,000 nodes. Measured {ms:.2} ms at p50 over {} nodes: {}.",
        plan.nodes,
        verdict(ms < 5.0 && plan.nodes >= 1000)
    )];
    Section { title: "Placement".into(), command, setup, table, verdict }
}
