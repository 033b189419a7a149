//! Memory per node, and start-up with thousands of nodes in the state file.
//!
//! One clusterd, simnodes registered in steps (0, then 1,000, then 5,000), all streaming stats
//! at 1 Hz; clusterd's resident memory at each step, the 0-node figure as baseline. Then the
//! same clusterd is killed and started again over its state file of 5,000 nodes, against a
//! start with an empty state file.

use std::time::{Duration, Instant};

use cluster_e2e::master::CLUSTER_SECTION;
use cluster_e2e::simnode::register;
use cluster_e2e::{procs, Master, SimNode};

use crate::fleet::{census, median_sample, simnodes, wait_alive};
use crate::report::{verdict, Section, Table};
use crate::stats::{millis, Spread};
use crate::sys::rss;

/// How much to measure.
pub struct Plan {
    /// Registered node counts at which memory is read (the first is usually 0).
    pub steps: Vec<usize>,
    /// Streaming time at each step before reading memory.
    pub settle: Duration,
    /// Restarts over the full state file.
    pub restarts: usize,
}

const MIB: f64 = 1024.0 * 1024.0;

/// A cell or verdict whose data is missing.
const NOT_MEASURED: &str = "not measured";

/// Descriptors clusterd holds per node: three TCP connections (command, stats, events) and the
/// eventfd mailboxes of its five ZeroMQ sockets (the command DEALER, its monitor's two PAIRs,
/// the two SUBs) while its streams are subscribed; four without (streams are lazy). The steps
/// are sized for the worst case. The memory table's last column shows what is held.
const FDS_PER_NODE: u64 = 8;

/// Descriptors left for everything else (listeners, clients, the state file, libzmq's threads).
const FDS_RESERVED: u64 = 500;

/// The steps this machine's open-files limit allows, and a note when some had to be lowered.
fn feasible(steps: &[usize]) -> (Vec<usize>, Option<String>) {
    let limit = crate::sys::open_files_limit();
    let ceiling = (limit.saturating_sub(FDS_RESERVED) / FDS_PER_NODE) as usize;
    // Round down to a readable step.
    let most = if ceiling >= 1000 { ceiling / 500 * 500 } else { ceiling / 100 * 100 };
    let wanted = steps.iter().copied().max().unwrap_or(0);
    if wanted <= ceiling {
        return (steps.to_vec(), None);
    }
    let mut lowered: Vec<usize> = steps.iter().map(|&s| s.min(most)).collect();
    lowered.dedup();
    let note = format!(
        "**{wanted} nodes could not be measured on this machine**: clusterd needs about {FDS_PER_NODE} descriptors \
         per node ({} for {wanted} nodes), and this machine's open-files limit is {limit}, a hard limit that \
         even root cannot raise here (no `CAP_SYS_RESOURCE`: `ulimit -Hn` is refused). Measured up to {most} \
         nodes instead. On a server, raise the limit for clusterd (systemd `LimitNOFILE=65536`, or `ulimit -n` \
         in its start script; clusterd raises its soft limit to the hard one by itself) and run \
         `target/release/clusterd-bench memory --steps {}`.",
        FDS_PER_NODE * wanted as u64,
        steps.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
    );
    (lowered, Some(note))
}

/// Runs both benchmarks; returns the memory section and the start-up section.
pub fn run(plan: &Plan, memory_command: String, startup_command: String) -> (Section, Section) {
    let (steps, lowered) = feasible(&plan.steps);
    let largest = steps.iter().copied().max().unwrap_or(0);
    let groups = simnodes(largest, &[]);
    let all: Vec<SimNode> = groups.iter().flat_map(|g| g.nodes.iter().cloned()).collect();
    let mut master = Master::start_quiet(CLUSTER_SECTION);
    let pid = master.pid().expect("clusterd runs");

    let mut table = Table::new(&["nodes registered", "clusterd RSS MiB", "per node KiB (over 0 nodes)", "open files"]);
    let mut registered = 0;
    // Missing data reads as "not measured", never as a figure: an RSS that cannot be read, or
    // no step with nodes at all (the open-files limit allows none).
    let (mut base, mut per_node_at_largest) = (None, None);
    for &step in &steps {
        register(&master, &all[registered..step]);
        registered = step;
        wait_alive(&master, step, Duration::from_secs(300));
        std::thread::sleep(plan.settle);
        let bytes = median_sample(5, Duration::from_secs(1), || rss(pid).map(|b| b as f64));
        if base.is_none() && step == 0 {
            base = bytes;
        }
        let per_node = match (bytes, base) {
            (Some(bytes), Some(base)) if step > 0 => Some((bytes - base) / step as f64 / 1024.0),
            _ => None,
        };
        if step == largest && step > 0 {
            per_node_at_largest = per_node;
        }
        table.row(vec![
            step.to_string(),
            bytes.map_or_else(|| NOT_MEASURED.into(), |b| format!("{:.1}", b / MIB)),
            match per_node {
                Some(kib) => format!("{kib:.1}"),
                None if step == 0 && bytes.is_some() => "baseline".into(),
                None => NOT_MEASURED.into(),
            },
            procs::open_fds(pid).map_or("?".into(), |n| n.to_string()),
        ]);
    }
    let verdict_line = match per_node_at_largest {
        Some(kib) => {
            format!(
                "Target: at most 64 KiB per registered node. Measured {kib:.1} KiB at {largest} nodes: {}.",
                verdict(kib <= 64.0)
            )
        }
        None => "Target: at most 64 KiB per registered node: **not measured** (no reading with nodes beside a \
                 0-node baseline)."
            .into(),
    };
    let memory = Section {
        title: "Memory per node".into(),
        command: memory_command,
        setup: format!(
            "One clusterd (release build, default settings: heartbeat 1 s). Simnodes (2 watchers × 2 processes, \
             stats at 1 Hz, {} per process) registered with `register_node` in steps; at each step, once all are \
             alive, {} s of streaming, then the median of 5 readings of VmRSS 1 s apart. Nothing subscribes to \
             the master's streams, so (streams are lazy) each node costs clusterd three ZeroMQ sockets (command \
             DEALER and its monitor's two PAIRs) and one TCP connection; a subscriber adds a stats SUB and an \
             events SUB, and two TCP connections, per node it wants.",
            crate::fleet::PER_PROCESS,
            plan.settle.as_secs()
        ) + &lowered.clone().map(|note| format!("\n\n{note}")).unwrap_or_default(),
        table,
        verdict: vec![verdict_line],
    };
    let mut startup = startup(plan, &mut master, largest, startup_command);
    if let Some(note) = lowered {
        startup.setup.push_str(&format!("\n\n{note}"));
    }
    drop(groups);
    (memory, startup)
}

fn startup(plan: &Plan, master: &mut Master, nodes: usize, command: String) -> Section {
    // The registrations reach the state file asynchronously: wait until it holds them all.
    let state = master.dir().join("clusterd-state.json");
    let deadline = Instant::now() + Duration::from_secs(60);
    while saved_nodes(&state) < nodes {
        assert!(Instant::now() < deadline, "state file holds {} of {nodes} nodes", saved_nodes(&state));
        std::thread::sleep(Duration::from_millis(200));
    }
    let (mut answered, mut alive) = (Vec::new(), Vec::new());
    for _ in 0..plan.restarts {
        master.kill9();
        let started = Instant::now();
        master.restart();
        answered.push(millis(started.elapsed()));
        wait_alive(master, nodes, Duration::from_secs(300));
        alive.push(millis(started.elapsed()));
        assert_eq!(census(master).0, nodes);
    }
    let empty: Vec<f64> = (0..plan.restarts)
        .map(|_| {
            let started = Instant::now();
            let fresh = Master::start_quiet(CLUSTER_SECTION);
            let elapsed = millis(started.elapsed());
            drop(fresh);
            elapsed
        })
        .collect();
    let mut table = Table::new(&["state file", "command endpoint answers ms", "all nodes alive ms"]);
    table.row(vec!["empty (baseline)".into(), Spread::of(&empty).show(0), "-".into()]);
    table.row(vec![format!("{nodes} nodes"), Spread::of(&answered).show(0), Spread::of(&alive).show(0)]);
    Section {
        title: "Start-up".into(),
        command,
        setup: format!(
            "clusterd killed with SIGKILL and started again over its state file of {nodes} registered simnodes \
             (all running), {} times: time from the start of the process to the first answer of `nodes`, and \
             until all nodes are alive again. Baseline: a clusterd with an empty state file, started the same \
             way. Cells: median (lowest–highest).",
            plan.restarts
        ),
        table,
        verdict: Vec::new(),
    }
}

fn saved_nodes(path: &std::path::Path) -> usize {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|v| v["nodes"].as_array().map(Vec::len))
        .unwrap_or(0)
}
