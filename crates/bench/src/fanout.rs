//! Fan-out: one `status` over 10, 100, 1,000 and 5,000 simnodes through clusterd, against the
//! loop operators script today, which asks the same nodes one after another.

use std::time::{Duration, Instant};

use cluster_e2e::{cli, Client, SimNodes};
use serde_json::{json, Value};

use crate::budget::{nodes_that_fit, nodes_too_many};
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

/// Goals of issue 18 at 1,000 nodes: p50 and the loop's time over it.
const GOAL_MS: f64 = 40.0;
const GOAL_RATIO: f64 = 30.0;

/// A node-set expression for the first `count` nodes of `groups` (`sim[01-10]`, or
/// `g1-[0001-1000],g2-[0001-0500]` over several simnode processes).
fn first_nodes(groups: &[SimNodes], count: usize) -> String {
    let mut left = count;
    let mut parts = Vec::new();
    for group in groups {
        let take = left.min(group.nodes.len());
        if take == 0 {
            break;
        }
        left -= take;
        let (first, last) = (&group.nodes[0].name, &group.nodes[take - 1].name);
        let prefix = first.trim_end_matches(|c: char| c.is_ascii_digit());
        parts.push(format!("{prefix}[{}-{}]", &first[prefix.len()..], &last[prefix.len()..]));
    }
    parts.join(",")
}

/// Runs the benchmark.
pub fn run(plan: &Plan, command: String) -> Section {
    let most = nodes_that_fit();
    let (sizes, left): (Vec<usize>, Vec<usize>) = plan.sizes.iter().partition(|&&s| s <= most);
    let largest = sizes.iter().copied().max().unwrap_or(0);
    let groups = simnodes(largest, &[]);
    let sims: Vec<_> = groups.iter().flat_map(|g| g.nodes.iter()).collect();
    let master = master_over(&groups.iter().collect::<Vec<_>>(), "");
    wait_alive(&master, largest, Duration::from_secs(300));
    let client = Client::connect(&master.endpoint, Duration::from_secs(60)).expect("client to clusterd");

    let mut table = Table::new(&[
        "nodes",
        "clusterd fan-out p50 ms",
        "p99 ms",
        "sequential loop p50 ms",
        "p99 ms",
        "loop ÷ fan-out at p50",
    ]);
    let mut at_1000 = None;
    for &size in &sizes {
        let expr = first_nodes(&groups, size);
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
            at_1000 = Some((millis(t.p50), millis(l.p50) / millis(t.p50)));
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
    for &size in &left {
        let not = "not measured".to_string();
        table.row(vec![size.to_string(), not.clone(), "-".into(), not, "-".into(), "-".into()]);
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
        "{largest} simnodes (2 watchers × 2 processes each, stats at 1 Hz; {} per process), static nodes of \
         one clusterd, nobody subscribed to its streams. Through clusterd: `status` with `node` = the first N \
         nodes as a node set (`sim[01-10]`; `g1-[0001-1000],g2-[...]` over several processes), all N replies \
         gathered in one answer, {} times per size. Baseline: a loop that connects to each node in turn and \
         asks `status` (in-process, the protocol crate's `Client`: a shell loop of `circusctl` pays a Python \
         start-up on top; measured once on 10 nodes: {circusctl_loop:.0} ms), {} times per size.",
        crate::fleet::PER_PROCESS,
        plan.repeats,
        plan.loops
    ) + &left
        .iter()
        .max()
        .map(|&n| format!("\n\n**{} nodes not measured on this machine**: {}.", join(&left), nodes_too_many(n)))
        .unwrap_or_default();
    let mut verdict = match at_1000 {
        Some((ms, ratio)) => vec![format!(
            "Target: `status` over 1,000 nodes at most {GOAL_MS:.0} ms at p50 and at least {GOAL_RATIO:.0}x faster \
             than the loop. Measured {ms:.1} ms: {}; {ratio:.1}x: {}.",
            verdict(ms <= GOAL_MS),
            verdict(ratio >= GOAL_RATIO)
        )],
        None => {
            vec!["Target: `status` over 1,000 nodes at most 40 ms at p50, >= 30x the loop: **not measured**.".into()]
        }
    };
    if !left.is_empty() {
        verdict.push(format!("Fan-out over {} nodes: **not measured** (open-files limit, see above).", join(&left)));
    }
    Section { title: "Fan-out".into(), command, setup, table, verdict }
}

fn join(sizes: &[usize]) -> String {
    sizes.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
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
