//! Failure detection: time from `kill -9` of a node to clusterd's `cluster.<node>.down` event,
//! among 10 and among 1,000 nodes. The baseline is what the settings promise: `down_after`
//! missed heartbeats.

use std::time::{Duration, Instant};

use cluster_e2e::simnode::register;
use cluster_e2e::SimNodes;
use clusterd_protocol::connection::Subscriber;

use crate::fleet::{master_over, simnodes, wait_alive};
use crate::report::{verdict, Section, Table};
use crate::stats::{millis, Spread};

/// How much to measure.
pub struct Plan {
    /// Cluster sizes (the victim included).
    pub sizes: Vec<usize>,
    /// Kills per size.
    pub kills: usize,
}

/// clusterd's defaults, which the benchmark runs with.
const HEARTBEAT: Duration = Duration::from_secs(1);
const DOWN_AFTER: u32 = 3;

/// Runs the benchmark.
pub fn run(plan: &Plan, command: String) -> Section {
    let mut table = Table::new(&["nodes", "kill → suspect ms", "kill → down ms", "3 × heartbeat ms"]);
    let mut worst: f64 = 0.0;
    for &size in &plan.sizes {
        let others = simnodes(size - 1, &[]);
        let master = master_over(&others.iter().collect::<Vec<_>>(), "");
        wait_alive(&master, size - 1, Duration::from_secs(120));
        let events = Subscriber::connect_with_hwm(&master.pubsub_endpoint, &["cluster.".to_string()], 0)
            .expect("subscriber to the master's events");
        let (mut suspect, mut down) = (Vec::new(), Vec::new());
        let mut no_suspect = 0;
        for kill in 1..=plan.kills {
            let prefix = format!("victim{kill}-");
            let mut victim = SimNodes::start(1, &["--name-prefix", &prefix]);
            register(&master, &victim.nodes);
            wait_alive(&master, size, Duration::from_secs(60));
            let name = victim.nodes[0].name.clone();
            drain(&events);
            let killed = Instant::now();
            victim.kill9();
            let (s, d) = watch(&events, &name, killed);
            match s {
                Some(s) => suspect.push(millis(s)),
                None => no_suspect += 1,
            }
            down.push(millis(d));
            let reply = master.call("unregister_node", serde_json::json!({"name": name}));
            assert_eq!(reply["status"], "ok", "{reply}");
        }
        let down_spread = Spread::of(&down);
        worst = worst.max(down_spread.max);
        table.row(vec![
            size.to_string(),
            with_missing(&suspect, no_suspect),
            down_spread.show(0),
            millis(HEARTBEAT * DOWN_AFTER).to_string(),
        ]);
    }
    let limit = millis(HEARTBEAT * DOWN_AFTER);
    Section {
        title: "Failure detection".into(),
        command,
        setup: format!(
            "clusterd with its defaults (heartbeat 1 s, down after 3 missed probes) over simnodes; a victim \
             simnode in a process of its own is registered, then killed with SIGKILL, {} times per size. Time \
             from the kill to the `cluster.<node>.suspect` and `cluster.<node>.down` events on the master's \
             event stream. Baseline: the 3 × heartbeat the settings promise. Cells: median (lowest–highest); \
             a kill whose `suspect` event never came is counted as missing, never as its down time.",
            plan.kills
        ),
        table,
        verdict: vec![format!(
            "Target: down within 3 × heartbeat ({limit:.0} ms). Slowest of all kills: {worst:.0} ms: {}.",
            verdict(worst <= limit)
        )],
    }
}

fn drain(events: &Subscriber) {
    while let Ok(Some(_)) = events.recv_timeout(Duration::from_millis(50)) {}
}

/// A cell of the kills that gave a figure, saying how many gave none: `missing` alone when
/// none did.
fn with_missing(values: &[f64], missing: usize) -> String {
    match (values.is_empty(), missing) {
        (true, _) => "missing".to_string(),
        (false, 0) => Spread::of(values).show(0),
        (false, n) => format!("{}, missing in {n} of {}", Spread::of(values).show(0), values.len() + n),
    }
}

/// Waits for the node's `suspect` and `down` events; times are from `killed`, the suspect's
/// none when its event did not come before the down event.
fn watch(events: &Subscriber, node: &str, killed: Instant) -> (Option<Duration>, Duration) {
    let (suspect, down) = (format!("cluster.{node}.suspect"), format!("cluster.{node}.down"));
    let mut seen_suspect = None;
    loop {
        assert!(killed.elapsed() < Duration::from_secs(60), "no down event for {node} within 60 s");
        let Ok(Some(frames)) = events.recv_timeout(Duration::from_millis(100)) else { continue };
        let topic = frames.first().map(|t| String::from_utf8_lossy(t).into_owned()).unwrap_or_default();
        if topic == suspect {
            seen_suspect = Some(killed.elapsed());
        } else if topic == down {
            let at = killed.elapsed();
            return (seen_suspect, at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::with_missing;

    #[test]
    fn a_missing_suspect_event_reads_as_missing_not_as_a_time() {
        assert_eq!(with_missing(&[], 5), "missing");
        assert_eq!(with_missing(&[100.0, 300.0, 200.0], 0), "200 (100–300)");
        assert_eq!(with_missing(&[100.0, 300.0], 1), "200 (100–300), missing in 1 of 3");
    }
}
