//! Fan-out: one `status` over 10, 100 and 1,000 simnodes through clusterd, against the loop
//! operators script today, which asks the same nodes one after another.

use std::time::{Duration, Instant};

use cluster_e2e::{cli, Client};
use serde_json::{json, Value};

use crate::fleet::{master_over, request, simnodes, wait_alive};
use crate::report::{verdict, Section, Table};
use crate::stats::{millis, Percentiles};

/// How much to measure.
pub struct Plan {
    /// Fan-out sizes.
    pub sizes: Vec<usize>,
    /// Fan-outs through clusterd per size.
    pub repeats: usize,
    /// Sequential loops per size (each asks every node once).
    pub loops: usize,
}

/// Runs the benchmark.
pub fn run(plan: &Plan, command: String) -> Section {
    let largest = plan.sizes.iter().copied().max().unwrap_or(0);
    let groups = simnodes(largest, &[]);
    let sims = &groups[0].nodes;
    let master = master_over(&groups.iter().collect::<Vec<_>>(), "");
    wait_alive(&master, largest, Duration::from_secs(120));
    let client = Client::connect(&master.endpoint, Duration::from_secs(60)).expect("client to clusterd");
    let width = largest.to_string().len();

    let mut table = Table::new(&[
        "nodes",
        "clusterd fan-out p50 ms",
        "p99 ms",
        "sequential loop p50 ms",
        "p99 ms",
        "loop ÷ fan-out at p50",
    ]);
    let mut at_1000 = None;
    for &size in &plan.sizes {
        let expr = format!("sim[{:0width$}-{:0width$}]", 1, size);
        let fan_out = request("status", json!({"node": expr}));
        let _ = client.call(&fan_out);
        let through: Vec<Duration> = (0..plan.repeats)
            .map(|_| {
                let started = Instant::now();
                let reply = client.call(&fan_out).expect("fan-out reply");
                let answered = reply.0.get("replies").and_then(Value::as_object).map_or(0, |r| r.len());
                assert_eq!(answered, size, "every node answers: {:?}", reply.0.get("reason"));
                started.elapsed()
            })
            .collect();
        let endpoints: Vec<&str> = sims.iter().take(size).map(|n| n.endpoint.as_str()).collect();
        let one_by_one: Vec<Duration> = (0..plan.loops).map(|_| sequential(&endpoints)).collect();
        let (t, l) = (Percentiles::of(&through), Percentiles::of(&one_by_one));
        if size == 1000 {
            at_1000 = Some(millis(t.p50));
        }
        table.row(vec![
            size.to_string(),
            format!("{:.1}", millis(t.p50)),
            format!("{:.1}", millis(t.p99)),
            format!("{:.1}", millis(l.p50)),
            format!("{:.1}", millis(l.p99)),
            format!("{:.1}", millis(l.p50) / millis(t.p50)),
        ]);
    }
    // What a shell loop of stock circusctl costs, measured on the first 10 nodes.
    let circusctl_loop = {
        let started = Instant::now();
        for node in sims.iter().take(10) {
            let run = cli::circusctl(&node.endpoint, &["status"]);
            assert_eq!(run.code, 0, "circusctl status: {}", run.stderr);
        }
        millis(started.elapsed())
    };
    let setup = format!(
        "{largest} simnodes (2 watchers × 2 processes each, stats at 1 Hz) in one process, static nodes of \
         one clusterd. Through clusterd: `status` with `node` = `sim[1-N]` (zero-padded), all N replies \
         gathered in one answer, {} times per size. Baseline: a loop that connects to each node in turn and \
         asks `status` (in-process, the protocol crate's `Client`: a shell loop of `circusctl` pays a Python \
         start-up on top; measured once on 10 nodes: {circusctl_loop:.0} ms), {} times per size.",
        plan.repeats, plan.loops
    );
    let verdict = match at_1000 {
        Some(ms) => vec![format!(
            "Target: `status` over 1,000 nodes under 250 ms at p50. Measured {ms:.1} ms: {}.",
            verdict(ms < 250.0)
        )],
        None => Vec::new(),
    };
    Section { title: "Fan-out".into(), command, setup, table, verdict }
}

/// One pass of the operator's loop: connect, ask, next node.
fn sequential(endpoints: &[&str]) -> Duration {
    let status = request("status", json!({}));
    let started = Instant::now();
    for endpoint in endpoints {
        let client = Client::connect(endpoint, Duration::from_secs(5)).expect("client to a node");
        let reply = client.call(&status).expect("status reply");
        assert!(!reply.is_error(), "{:?}", reply.0);
    }
    started.elapsed()
}
