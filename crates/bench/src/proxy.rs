//! Proxy overhead: `status NAME` straight to a node, through a plain libzmq `zmq_proxy` hop (the
//! floor of one forwarding hop on this machine) and through clusterd, for a real circusd and for
//! a simnode, in the same run, interleaved so that machine noise hits every path alike.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cluster_e2e::master::node_section;
use cluster_e2e::{paths, ports, procs, CircusNode, Client, Request, SimNodes};
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

/// The goal of issue 18: clusterd's hop costs at most this many times the `zmq_proxy` hop's.
const FLOOR_FACTOR: f64 = 1.25;

/// One target: a node reached straight, through the `zmq_proxy` hop (when the node can answer
/// through one) and through the master.
struct Target {
    label: &'static str,
    direct: String,
    /// The `zmq_proxy` hop's front endpoint. circusd 0.19 drops the hop's extra envelope frame
    /// (`controller.py`: a message must be exactly `[identity, request]`), so it has none.
    hop: Option<String>,
    name: &'static str,
    qualified: &'static str,
}

/// One run's percentiles per path.
struct Run {
    direct: Percentiles,
    hop: Option<Percentiles>,
    master: Percentiles,
}

/// Runs the benchmark.
pub fn run(plan: &Plan, command: String) -> Section {
    let circus = CircusNode::start("real", &[("dummy", 1)]);
    let sims = SimNodes::start(1, &["--name-prefix", "sim"]);
    let master = master_over(&[&sims], &node_section(&circus));
    wait_alive(&master, 2, Duration::from_secs(30));
    let relay = HopRelay::start(&sims.nodes[0].endpoint);
    let targets = [
        Target {
            label: "circusd 0.19",
            direct: circus.endpoint.clone(),
            hop: None,
            name: "dummy",
            qualified: "real:dummy",
        },
        Target {
            label: "simnode",
            direct: sims.nodes[0].endpoint.clone(),
            hop: Some(relay.front.clone()),
            name: "w0",
            qualified: "sim1:w0",
        },
    ];
    let mut table = Table::new(&[
        "node",
        "direct p50 µs",
        "direct p99 µs",
        "zmq_proxy p50 µs",
        "via clusterd p50 µs",
        "via clusterd p99 µs",
        "zmq_proxy added at p50 µs",
        "clusterd added at p50 µs",
        "clusterd ÷ zmq_proxy added",
    ]);
    let mut added_circus = 0.0;
    let mut against_floor = None;
    for target in &targets {
        let runs: Vec<Run> =
            (0..plan.rounds).map(|round| measure(target, &master.endpoint, plan.requests, round)).collect();
        let spread = |f: &dyn Fn(&Run) -> f64| Spread::of(&runs.iter().map(f).collect::<Vec<_>>());
        let hop_spread = |f: &dyn Fn(&Run, &Percentiles) -> f64| {
            let values: Vec<f64> = runs.iter().filter_map(|r| r.hop.as_ref().map(|h| f(r, h))).collect();
            (!values.is_empty()).then(|| Spread::of(&values))
        };
        let added = spread(&|r| micros(r.master.p50) - micros(r.direct.p50));
        let hop_added = hop_spread(&|r, h| micros(h.p50) - micros(r.direct.p50));
        let ratio =
            hop_spread(&|r, h| (micros(r.master.p50) - micros(r.direct.p50)) / (micros(h.p50) - micros(r.direct.p50)));
        if target.hop.is_none() {
            added_circus = added.median;
        }
        if let (Some(floor), Some(ratio)) = (hop_added, ratio) {
            against_floor = Some((added.median, floor.median, ratio.median));
        }
        let missing = || "n/a".to_string();
        table.row(vec![
            target.label.to_string(),
            spread(&|r| micros(r.direct.p50)).show(0),
            spread(&|r| micros(r.direct.p99)).show(0),
            hop_spread(&|_, h| micros(h.p50)).map_or_else(missing, |s| s.show(0)),
            spread(&|r| micros(r.master.p50)).show(0),
            spread(&|r| micros(r.master.p99)).show(0),
            hop_added.map_or_else(missing, |s| s.show(0)),
            added.show(0),
            ratio.map_or_else(missing, |s| s.show(2)),
        ]);
    }
    drop(relay);
    let setup = format!(
        "Round trips of `status NAME` from one blocking DEALER client (the protocol crate's `Client`, \
         matching replies by `id` as `CircusClient` does), one request at a time: straight to the node \
         (the baseline), through a plain libzmq hop (`zmq_proxy` between a ROUTER front and a DEALER \
         back, in a process of its own: `clusterd-bench hop-relay`; the node keeps the extra envelope \
         frame, which simnode does and circusd 0.19 does not, so the circusd row has no such hop) and \
         through clusterd (`node:NAME`). {} runs of {} requests per path after 200 warm-up requests; \
         within a run the paths take turns in blocks of 50, the first path rotating block by block. \
         Added: a path's p50 minus the direct p50 of the same run; the last column divides clusterd's \
         added time by zmq_proxy's, run by run. Cells: median over runs (lowest–highest run).",
        plan.rounds, plan.requests
    );
    let floor_line = match against_floor {
        Some((ours, floor, ratio)) => format!(
            "Target: hop <= {FLOOR_FACTOR}x the zmq_proxy floor. Against simnode clusterd adds {ours:.0} µs, \
             zmq_proxy {floor:.0} µs: {ratio:.2}x, {}.",
            verdict(ratio <= FLOOR_FACTOR)
        ),
        None => format!("Target: hop <= {FLOOR_FACTOR}x the zmq_proxy floor: not measured."),
    };
    let verdict = vec![
        floor_line,
        format!(
            "Target: the hop adds at most 100 µs at p50. Against real circusd it adds {added_circus:.0} µs: {}.",
            verdict(added_circus <= 100.0)
        ),
    ];
    Section { title: "Proxy overhead".into(), command, setup, table, verdict }
}

/// One run: `requests` round trips on each path, the paths taking turns in blocks.
fn measure(target: &Target, master: &str, requests: usize, round: usize) -> Run {
    let connect = |endpoint: &str| Client::connect(endpoint, Duration::from_secs(5)).expect("client");
    let straight = request("status", json!({"name": target.name}));
    let proxied = request("status", json!({"name": target.qualified}));
    // Path 0 direct, 1 through clusterd, 2 through the zmq_proxy hop (when there is one).
    let mut routes = vec![(connect(&target.direct), &straight), (connect(master), &proxied)];
    if let Some(hop) = &target.hop {
        routes.push((connect(hop), &straight));
    }
    let time = |(client, req): &(Client, &Request)| {
        let started = Instant::now();
        let reply = client.call(req).expect("reply");
        assert_eq!(reply.status(), Some("active"), "{:?}", reply.0);
        started.elapsed()
    };
    for _ in 0..200 {
        for route in &routes {
            time(route);
        }
    }
    let mut samples: Vec<Vec<Duration>> = vec![Vec::with_capacity(requests); routes.len()];
    let mut block = 0;
    while samples[0].len() < requests {
        let n = 50.min(requests - samples[0].len());
        // Rotate which path goes first, so that none always runs on a warmer cache.
        for k in 0..routes.len() {
            let which = (block + round + k) % routes.len();
            samples[which].extend((0..n).map(|_| time(&routes[which])));
        }
        block += 1;
    }
    Run {
        direct: Percentiles::of(&samples[0]),
        master: Percentiles::of(&samples[1]),
        hop: samples.get(2).map(|s| Percentiles::of(s)),
    }
}

/// The baseline hop, a `clusterd-bench hop-relay` process in front of one node.
struct HopRelay {
    child: Child,
    front: String,
}

impl HopRelay {
    /// Starts the hop and waits until a request goes through it.
    fn start(back: &str) -> HopRelay {
        let front = ports::free_endpoint();
        let child = procs::spawn(
            Command::new(paths::target_dir().join("clusterd-bench"))
                .args(["hop-relay", "--front", &front, "--back", back])
                .stdout(Stdio::null()),
        );
        let relay = HopRelay { child, front };
        let client = Client::connect(&relay.front, Duration::from_millis(500)).expect("client to the hop");
        let started = Instant::now();
        while client.call(&request("numwatchers", json!({}))).is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "the zmq_proxy hop never answered");
        }
        relay
    }
}

impl Drop for HopRelay {
    fn drop(&mut self) {
        procs::terminate(&mut self.child, Duration::from_secs(2));
    }
}
