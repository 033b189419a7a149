//! Memory per node, with nobody subscribed and with one subscriber to `stat.`.
//!
//! One clusterd, simnodes registered in steps (0, then 1,000, then 5,000), all streaming stats
//! at 1 Hz. At each step clusterd's resident memory is read twice: idle (streams are lazy, so
//! no stream connection), then while one subscriber reads `stat.` (every node's stats feed
//! started, as far as the open-files limit allows). The 0-node readings are the baselines.

use std::time::Duration;

use cluster_e2e::master::CLUSTER_SECTION;
use cluster_e2e::simnode::register;
use cluster_e2e::{procs, Master, SimNode};

use crate::budget::{feeds_too_many, nodes_that_fit, nodes_too_many};
use crate::fleet::{median_sample, simnodes, wait_alive};
use crate::report::{verdict, Section, Table};
use crate::subscriber::{wait_feeds, Reader};
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
pub const NOT_MEASURED: &str = "not measured";

/// Goals of issue 18, KiB per node.
const GOAL_IDLE_KIB: f64 = 48.0;
const GOAL_SUBSCRIBED_KIB: f64 = 64.0;

/// The steps the open-files limit allows (with the largest that fits, rounded down, in place of
/// those left out), the steps left out, and a note with the arithmetic.
pub fn feasible(steps: &[usize]) -> (Vec<usize>, Vec<usize>, Option<String>) {
    let most = nodes_that_fit();
    let (mut fit, left): (Vec<usize>, Vec<usize>) = steps.iter().partition(|&&s| s <= most);
    let Some(&wanted) = left.iter().max() else { return (fit, left, None) };
    let rounded = if most >= 1000 { most / 500 * 500 } else { most / 100 * 100 };
    if fit.iter().all(|&s| s < rounded) {
        fit.push(rounded);
    }
    let note = format!(
        "**{} nodes not measured on this machine**: {}. Measured up to {} nodes instead. On a server, raise \
         the limit for clusterd (systemd `LimitNOFILE=65536`; clusterd raises its soft limit to the hard one by \
         itself).",
        left.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
        nodes_too_many(wanted),
        fit.iter().max().unwrap_or(&0)
    );
    (fit, left, Some(note))
}

/// One reading: RSS and open files, or nothing.
struct Reading {
    rss: Option<f64>,
    open: Option<usize>,
}

fn read(pid: u32, settle: Duration) -> Reading {
    std::thread::sleep(settle);
    let rss = median_sample(5, Duration::from_secs(1), || rss(pid).map(|b| b as f64));
    Reading { rss, open: procs::open_fds(pid) }
}

fn per_node(reading: Option<f64>, base: Option<f64>, nodes: usize) -> Option<f64> {
    match (reading, base) {
        (Some(bytes), Some(base)) if nodes > 0 => Some((bytes - base) / nodes as f64 / 1024.0),
        _ => None,
    }
}

fn mib(bytes: Option<f64>) -> String {
    bytes.map_or_else(|| NOT_MEASURED.into(), |b| format!("{:.1}", b / MIB))
}

/// Runs the memory benchmark; returns its section and the clusterd it measured, with as many
/// nodes registered as the largest step (the start-up benchmark restarts it).
pub fn run(plan: &Plan, command: String) -> (Section, Master, Vec<cluster_e2e::SimNodes>, usize) {
    let (steps, left, lowered) = feasible(&plan.steps);
    let largest = steps.iter().copied().max().unwrap_or(0);
    let groups = simnodes(largest, &[]);
    let all: Vec<SimNode> = groups.iter().flat_map(|g| g.nodes.iter().cloned()).collect();
    let master = Master::start_quiet(CLUSTER_SECTION);
    let pid = master.pid().expect("clusterd runs");

    let mut table = Table::new(&[
        "nodes registered",
        "nobody subscribed: RSS MiB",
        "KiB per node",
        "open files",
        "one subscriber to `stat.`: RSS MiB",
        "KiB per node",
        "open files",
        "stats feeds started",
    ]);
    let mut registered = 0;
    // Missing data reads as "not measured", never as a figure.
    let (mut idle_base, mut subscribed_base) = (None, None);
    let (mut idle_last, mut subscribed_last) = (None, None);
    let mut refusals = Vec::new();
    for &step in &steps {
        register(&master, &all[registered..step]);
        registered = step;
        wait_alive(&master, step, Duration::from_secs(300));
        let idle = read(pid, plan.settle);
        let reader = Reader::start(&master.stats_endpoint, "stat.");
        let feeds = wait_feeds(&master, true, Duration::from_secs(120));
        let subscribed = read(pid, plan.settle);
        let received = reader.received();
        drop(reader);
        // The master lets go of the feeds 3 s after the subscriber left.
        let released = wait_feeds(&master, false, Duration::from_secs(60));
        if step == 0 {
            idle_base = idle.rss;
            subscribed_base = subscribed.rss;
        }
        let idle_kib = per_node(idle.rss, idle_base, step);
        let all_started = feeds.started == step && (step == 0 || received > 0);
        let subscribed_kib = if all_started { per_node(subscribed.rss, subscribed_base, step) } else { None };
        if step > 0 {
            idle_last = idle_kib.map(|kib| (step, kib));
            if all_started {
                subscribed_last = subscribed_kib.map(|kib| (step, kib));
            } else {
                let why = feeds.reason.clone().or_else(|| feeds_too_many(step)).unwrap_or_else(|| {
                    format!("{} started, {} refused, the rest neither after 120 s", feeds.started, feeds.refused)
                });
                refusals.push(format!("at {step} nodes, {} of {step} stats feeds started: {why}", feeds.started));
            }
        }
        if released.started > 0 {
            refusals
                .push(format!("at {step} nodes, {} feeds still held 60 s after the subscriber left", released.started));
        }
        table.row(vec![
            step.to_string(),
            mib(idle.rss),
            kib_cell(idle_kib, step, idle.rss.is_some()),
            idle.open.map_or(NOT_MEASURED.into(), |n| n.to_string()),
            mib(subscribed.rss),
            match subscribed_kib {
                _ if !all_started => format!("{NOT_MEASURED} ({} of {step} feeds)", feeds.started),
                kib => kib_cell(kib, step, subscribed.rss.is_some()),
            },
            subscribed.open.map_or(NOT_MEASURED.into(), |n| n.to_string()),
            format!("{} of {step} ({} messages read)", feeds.started, received),
        ]);
    }
    for step in &left {
        let mut row = vec![step.to_string()];
        row.extend(std::iter::repeat_n(NOT_MEASURED.to_string(), 7));
        table.row(row);
    }
    let wanted = plan.steps.iter().copied().max().unwrap_or(0);
    let verdict_line = |goal: f64, what: &str, last: Option<(usize, f64)>| match last {
        Some((nodes, kib)) if nodes == wanted => {
            format!(
                "Target: at most {goal:.0} KiB per node {what}. Measured {kib:.1} KiB at {nodes} nodes: {}.",
                verdict(kib <= goal)
            )
        }
        Some((nodes, kib)) => format!(
            "Target: at most {goal:.0} KiB per node {what}: **not measured at {wanted} nodes** (see above); \
             {kib:.1} KiB at {nodes} nodes ({}).",
            if kib <= goal { "within the goal there" } else { "over the goal already there" }
        ),
        None => format!(
            "Target: at most {goal:.0} KiB per node {what}: **not measured** (no reading beside its 0-node baseline)."
        ),
    };
    let mut verdicts = vec![
        verdict_line(GOAL_IDLE_KIB, "with nobody subscribed", idle_last),
        verdict_line(GOAL_SUBSCRIBED_KIB, "with a subscriber", subscribed_last),
    ];
    verdicts.extend(refusals);
    let section = Section {
        title: "Memory per node".into(),
        command,
        setup: format!(
            "One clusterd (release build, default settings: heartbeat 1 s). Simnodes (2 watchers × 2 processes, \
             stats at 1 Hz, {} per process) registered with `register_node` in steps; at each step, once all are \
             alive, {} s of streaming, then the median of 5 readings of VmRSS 1 s apart, with nobody subscribed \
             (streams are lazy: no stream connection to any node). Then one SUB on the master's stats endpoint \
             with the prefix `stat.`, read by a thread as fast as messages come: once `nodes` shows every \
             node's stats feed started (or refused by the descriptor budget, `streams.error`), {} s more and \
             the same readings. The subscriber then leaves and the feeds are let go before the next step. KiB \
             per node = (RSS(n) − RSS(0)) / n, each against the 0-node reading of the same kind; a row whose \
             feeds did not all start has no per-node figure.",
            crate::fleet::PER_PROCESS,
            plan.settle.as_secs(),
            plan.settle.as_secs()
        ) + &lowered.map(|note| format!("\n\n{note}")).unwrap_or_default(),
        table,
        verdict: verdicts,
    };
    (section, master, groups, largest)
}

fn kib_cell(kib: Option<f64>, step: usize, read: bool) -> String {
    match kib {
        Some(kib) => format!("{kib:.1}"),
        None if step == 0 && read => "baseline".into(),
        None => NOT_MEASURED.into(),
    }
}
