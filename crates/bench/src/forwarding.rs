//! Stats forwarding: the highest rate clusterd republishes from 1,000 simnodes with nothing
//! lost, against a plain libzmq SUB→PUB relay (`zmq_proxy`, no rewriting) over the same nodes.
//!
//! The simnodes publish bursts (the `simnode` command sets `interval_ms` and `cycles` for the
//! whole process), each at a higher offered rate. A subscriber with no queue limit counts what
//! the forwarder delivers; the delivered rate is messages over the time from the start of the
//! burst to the last message, or over the burst's nominal length when it came sooner. A
//! forwarder slower than the offered rate still delivers everything if its queues hold the
//! burst, at its own pace: then the delivered rate is its capacity.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cluster_e2e::{paths, ports, procs, Client, SimNodes};
use clusterd_protocol::connection::stream::{NODE_STREAM_QUEUE, SUBSCRIBER_QUEUE};
use clusterd_protocol::connection::Subscriber;
use serde_json::json;

use crate::fleet::{master_over, request, simnodes, wait_alive};
use crate::report::{rate, verdict, Section, Table};
use crate::sys::cpu_time;

/// How much to measure.
pub struct Plan {
    /// Simulated nodes.
    pub nodes: usize,
    /// Stats cycle intervals to offer, slowest first.
    pub intervals_ms: Vec<u64>,
    /// Length of each burst.
    pub burst: Duration,
}

/// Messages per node per cycle with simnode's defaults (2 watchers × (2 processes + total),
/// plus circus's 2 processes and total).
const PER_NODE_CYCLE: usize = 2 * 3 + 3;

/// One burst's outcome.
struct Burst {
    offered: f64,
    expected: usize,
    received: usize,
    delivered: f64,
    /// `None` when the forwarder's CPU time could not be read (before or after).
    cpu_per_million: Option<f64>,
}

/// Runs the benchmark.
pub fn run(plan: &Plan, command: String) -> Section {
    let groups = simnodes(plan.nodes, &["--stats-cycles", "0"]);
    let sims: Vec<&SimNodes> = groups.iter().collect();
    // The schedule is per simnode process: one control client for each.
    let control: Vec<Client> = groups
        .iter()
        .map(|group| Client::connect(&group.nodes[0].endpoint, Duration::from_secs(10)).expect("simnode control"))
        .collect();

    let master = master_over(&sims, "");
    wait_alive(&master, plan.nodes, Duration::from_secs(120));
    let clusterd = bursts(plan, &control, &master.stats_endpoint, master.pid().expect("clusterd runs"));
    drop(master);

    let mut relay = Relay::start(&sims);
    let relayed = bursts(plan, &control, &relay.endpoint, relay.child.id());
    relay.stop();

    let mut table = Table::new(&[
        "offered",
        "clusterd delivered",
        "clusterd lost",
        "clusterd CPU s / 1M msgs",
        "relay delivered",
        "relay lost",
        "relay CPU s / 1M msgs",
    ]);
    for (c, r) in clusterd.iter().zip(&relayed) {
        table.row(vec![
            rate(c.offered),
            rate(c.delivered),
            (c.expected - c.received).to_string(),
            cpu_cell(c.cpu_per_million),
            rate(r.delivered),
            (r.expected - r.received).to_string(),
            cpu_cell(r.cpu_per_million),
        ]);
    }
    let best =
        |runs: &[Burst]| runs.iter().filter(|b| b.received == b.expected).map(|b| b.delivered).fold(0.0, f64::max);
    let (ours, plain) = (best(&clusterd), best(&relayed));
    let share = if plain > 0.0 { ours / plain * 100.0 } else { 0.0 };
    let setup = format!(
        "{} simnodes in one process (each cycle: {PER_NODE_CYCLE} messages per node, as circusd-stats with 2 \
         watchers × 2 processes), bursts of about {} s at each offered rate. clusterd: static nodes, topics \
         rewritten and `node` spliced in. Baseline: one SUB connected to the same {} stats endpoints and a PUB, \
         joined by `zmq_proxy` (`clusterd-bench relay`), no rewriting. Both forwarders queue the same: {} \
         messages per node connection (clusterd's feed SUBs, the relay's SUB) and {} per subscriber on the \
         PUB (clusterd's limit for small messages). The subscriber has no queue limit, so losses happen in \
         the forwarder. Offered: the rate asked of simnode (messages per cycle ÷ interval); \
         delivered: measured at the subscriber, over the burst's nominal length or longer if it took longer. \
         CPU: user + system time of the forwarder process during the burst.",
        plan.nodes,
        plan.burst.as_secs(),
        plan.nodes,
        NODE_STREAM_QUEUE,
        SUBSCRIBER_QUEUE,
    );
    let mut verdicts = vec![format!(
        "Highest rate with nothing lost: clusterd {}, relay {} ({share:.0} % of the relay). Target: at least 95 %: {}.",
        rate(ours),
        rate(plain),
        verdict(share >= 95.0)
    )];
    verdicts.push(match (median_cpu(&clusterd), median_cpu(&relayed)) {
        (Some(ours), Some(plain)) if plain > 0.0 => format!(
            "CPU per message, median over the lossless rates: clusterd {ours:.2} s / 1M, relay {plain:.2} s / 1M \
             ({:.1}x). Target: at most 1.5x: {}.",
            ours / plain,
            verdict(ours <= 1.5 * plain)
        ),
        _ => "CPU per message: **not measured** (no lossless rate with a CPU reading on both sides).".into(),
    });
    Section { title: "Stats forwarding".into(), command, setup, table, verdict: verdicts }
}

/// A CPU cell: the figure, or "not measured" when the CPU time could not be read.
fn cpu_cell(cpu_per_million: Option<f64>) -> String {
    cpu_per_million.map_or_else(|| "not measured".into(), |cpu| format!("{cpu:.2}"))
}

/// The median CPU per million messages over the bursts where nothing was lost (a lossy burst's
/// CPU is spread over fewer messages); `None` without any reading.
fn median_cpu(bursts: &[Burst]) -> Option<f64> {
    let mut cpu: Vec<f64> =
        bursts.iter().filter(|b| b.received == b.expected).filter_map(|b| b.cpu_per_million).collect();
    cpu.sort_by(f64::total_cmp);
    cpu.get(cpu.len() / 2).copied()
}

fn bursts(plan: &Plan, control: &[Client], stream: &str, forwarder: u32) -> Vec<Burst> {
    let subscriber =
        Subscriber::connect_with_hwm(stream, &["stat.".to_string()], 0).expect("subscriber to the forwarder");
    // A first short burst proves every hop is connected before anything is counted.
    let per_cycle = PER_NODE_CYCLE * plan.nodes;
    let _ = one_burst(control, &subscriber, 100, 2, per_cycle, forwarder);
    plan.intervals_ms
        .iter()
        .map(|&interval| {
            let cycles = (plan.burst.as_millis() as u64 / interval).max(3);
            one_burst(control, &subscriber, interval, cycles, per_cycle, forwarder)
        })
        .collect()
}

fn one_burst(
    control: &[Client],
    subscriber: &Subscriber,
    interval: u64,
    cycles: u64,
    per_cycle: usize,
    pid: u32,
) -> Burst {
    let expected = per_cycle * cycles as usize;
    let cpu_before = cpu_time(pid);
    let schedule = request("simnode", json!({"interval_ms": interval, "cycles": cycles}));
    for process in control {
        let reply = process.call(&schedule).expect("simnode schedule");
        assert!(!reply.is_error(), "{:?}", reply.0);
    }
    let started = Instant::now();
    let (mut received, mut last) = (0usize, started);
    // Until everything came, or nothing came for 3 s (the forwarder lost the rest).
    while received < expected && last.elapsed() < Duration::from_secs(3) {
        if let Ok(Some(frames)) = subscriber.recv_timeout(Duration::from_millis(100)) {
            // clusterd also publishes the merged `stat.sockets` total; the nodes publish none.
            if frames.first().is_some_and(|t| t.starts_with(b"stat.sockets")) {
                continue;
            }
            received += 1;
            last = Instant::now();
        }
    }
    // A failed read is missing, not zero.
    let cpu = cpu_before.zip(cpu_time(pid)).map(|(before, after)| after.saturating_sub(before));
    // A forwarder that keeps up delivers the burst within its nominal length (cycles × interval);
    // one that does not takes longer, and its delivered rate is its capacity.
    let nominal = Duration::from_millis(interval * cycles);
    let span = (last - started).max(nominal).as_secs_f64();
    Burst {
        offered: per_cycle as f64 * 1000.0 / interval as f64,
        expected,
        received,
        delivered: received as f64 / span,
        cpu_per_million: cpu.map(|cpu| cpu.as_secs_f64() / (received.max(1) as f64) * 1e6),
    }
}

/// The baseline relay, a `clusterd-bench relay` process.
struct Relay {
    child: Child,
    endpoint: String,
}

impl Relay {
    fn start(groups: &[&SimNodes]) -> Relay {
        let endpoint = ports::free_endpoint();
        let list = std::env::temp_dir().join(format!("relay-{}.txt", std::process::id()));
        let text: Vec<&str> = groups.iter().flat_map(|g| &g.nodes).map(|n| n.stats_endpoint.as_str()).collect();
        std::fs::write(&list, text.join("\n")).expect("relay endpoint list");
        let child = procs::spawn(
            Command::new(paths::target_dir().join("clusterd-bench"))
                .args(["relay", "--to", &endpoint, "--from-file"])
                .arg(&list)
                .stdout(Stdio::null()),
        );
        Relay { child, endpoint }
    }

    fn stop(&mut self) {
        procs::terminate(&mut self.child, Duration::from_secs(2));
    }
}
