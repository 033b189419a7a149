//! The second table of `logs`: commands through the master and the node's stats forwarding
//! during a quiet period, then while the node floods its output (each line carried by the
//! agent and the master to a subscriber), in the same run.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use cluster_e2e::{Client, Master};
use clusterd_protocol::connection::Subscriber;
use serde_json::json;

use crate::fleet::request;
use crate::logs::{wait_delivery, write_lines, Got, Plan};
use crate::report::{Section, Table};
use crate::stats::{millis, Percentiles};

/// The flooding node's rate, lines per second: five times the target.
const FLOOD_RATE: u64 = 100_000;

/// Commands and stats forwarding over `seconds` without output, then while the node floods.
pub fn section(plan: &Plan, master: &Master, out: &mut std::fs::File, got: &Mutex<Got>, command: String) -> Section {
    let mut table = Table::new(&[
        "period",
        "lines offered",
        "command p50 ms",
        "command p99 ms",
        "stats msgs/s",
        "longest stats gap ms",
        "lines received",
    ]);
    let mut figures = Vec::new();
    for (period, flooding) in [("quiet", false), ("flooding", true)] {
        let stats =
            Subscriber::connect(&master.stats_endpoint, &["stat.lgbench".to_string()]).expect("stats subscriber");
        // Let the subscription settle and skip what was queued before.
        while stats.recv_timeout(Duration::from_millis(500)).ok().flatten().is_some() {}
        // Arrival times taken by a thread of their own: the command loop must not delay them.
        let period_end = Instant::now() + Duration::from_secs(plan.seconds);
        let stats_thread = std::thread::spawn(move || {
            let mut times = Vec::new();
            while Instant::now() < period_end {
                if let Ok(Some(_)) = stats.recv_timeout(Duration::from_millis(50)) {
                    times.push(Instant::now());
                }
            }
            times
        });
        let writer = flooding.then(|| {
            let mut out = out.try_clone().expect("file");
            let lines = FLOOD_RATE * plan.seconds;
            std::thread::spawn(move || {
                write_lines(&mut out, "flood", lines, Some(FLOOD_RATE));
                lines
            })
        });
        let client = Client::connect(&master.endpoint, Duration::from_secs(5)).expect("client");
        let status = request("status", json!({"name": "lgbench:work"}));
        let mut latencies = Vec::new();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(plan.seconds) {
            let sent = Instant::now();
            if client.call(&status).is_ok() {
                latencies.push(sent.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let stat_times = stats_thread.join().unwrap_or_default();
        let offered = writer.map(|w| w.join().unwrap_or(0));
        let received = wait_delivery(got, "flood", offered.unwrap_or(0), started).distinct;
        let gap = stat_times.windows(2).map(|w| w[1] - w[0]).max();
        let per_s = stat_times.len() as f64 / plan.seconds as f64;
        let p = (!latencies.is_empty()).then(|| Percentiles::of(&latencies));
        figures.push((p, per_s, gap));
        table.row(vec![
            period.into(),
            offered.map_or("0".into(), |n| n.to_string()),
            p.map_or("not measured".into(), |p| format!("{:.2}", millis(p.p50))),
            p.map_or("not measured".into(), |p| format!("{:.2}", millis(p.p99))),
            format!("{per_s:.1}"),
            gap.map_or("not measured".into(), |g| format!("{:.0}", millis(g))),
            if flooding { received.to_string() } else { "-".into() },
        ]);
    }
    let verdict = match (&figures[0], &figures[1]) {
        ((Some(quiet), quiet_rate, Some(quiet_gap)), (Some(flood), flood_rate, Some(flood_gap))) => {
            let delayed = millis(flood.p99) > 2.0 * millis(quiet.p99).max(1.0)
                || *flood_rate < 0.8 * quiet_rate
                || millis(*flood_gap) > millis(*quiet_gap) + 1000.0;
            vec![format!(
                "Target: a node flooding its output never delays stats forwarding or commands (command p99 within \
                 2x of the quiet run's, stats rate within 80 %, longest stats gap within 1 s of it): {}.",
                if delayed { "**missed**" } else { "**met**" }
            )]
        }
        _ => vec!["Target: a flooding node never delays stats forwarding or commands: **not measured**.".into()],
    };
    let setup = format!(
        "The same run, after the table above: {} s without output, then {} s while the benchmark appends 100,000 lines/s \
         to the node's output file (five times the target; a SUB on logs_endpoint subscribed all along, so the agent \
         and the master carry every line). Meanwhile `status lgbench:work` through the master every 20 ms (one \
         DEALER client) and a SUB on the master's stats_endpoint (topic `stat.lgbench`).",
        plan.seconds, plan.seconds
    );
    Section {
        title: "Watcher output: a flooding node vs stats and commands".into(),
        command: format!("{command} (second table)"),
        setup,
        table,
        verdict,
    }
}
