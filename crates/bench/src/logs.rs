//! Watcher output (issue 16): lines per second from one node's output file through its log
//! agent (`clusterctl join`) and the master's `[cluster] logs_endpoint` to a subscriber (what
//! `clusterctl logs -f` does), every line numbered so that any loss is counted, beside
//! `tail -F` of the same file in the same run; the agent's and the master's CPU per million
//! lines; and whether a node flooding its output delays stats forwarding or commands, beside
//! a quiet period of the same run.
//!
//! The node is a real circusd whose `printer` watcher has a FileStream `printer.out` (its
//! process prints nothing): the benchmark appends the lines to that file itself, so the
//! offered rate is exact.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cluster_e2e::master::CLUSTER_SECTION;
use cluster_e2e::worker::{logging_worker, FILE_STREAM};
use cluster_e2e::{ports, Client, Master};
use clusterd_protocol::connection::Subscriber;
use serde_json::{json, Value};

use crate::fleet::request;
use crate::report::{rate, Section, Table};

use crate::sys::cpu_time;

/// How much to measure.
pub struct Plan {
    /// The paced rates, lines per second, each for `seconds`.
    pub rates: Vec<u64>,
    /// Length of each paced phase, and of the quiet and flood periods.
    pub seconds: u64,
    /// Lines of the unpaced burst.
    pub burst: u64,
}

/// The per-node target, lines per second with nothing lost.
const TARGET: f64 = 20_000.0;
/// Longest wait for the last lines of a phase.
const DRAIN: Duration = Duration::from_secs(5);

/// What one reader (the subscriber, or `tail -F`) got of each phase: distinct numbers, the
/// duplicates, and when the last line came.
#[derive(Default)]
pub struct Got {
    seen: HashMap<String, (Vec<bool>, u64, u64, Option<Instant>)>,
}

impl Got {
    /// Counts one line `<phase> <n> ...`.
    fn take(&mut self, text: &str) {
        let mut words = text.split_whitespace();
        let (Some(phase), Some(Ok(n))) = (words.next(), words.next().map(str::parse::<usize>)) else { return };
        let entry = self.seen.entry(phase.to_string()).or_default();
        if entry.0.len() <= n {
            entry.0.resize(n + 1, false);
        }
        if entry.0[n] {
            entry.2 += 1;
        } else {
            entry.0[n] = true;
            entry.1 += 1;
        }
        entry.3 = Some(Instant::now());
    }

    /// Distinct lines, duplicates and the last arrival of `phase`.
    pub fn of(&self, phase: &str) -> (u64, u64, Option<Instant>) {
        self.seen.get(phase).map_or((0, 0, None), |(_, distinct, dups, last)| (*distinct, *dups, *last))
    }
}

/// One phase's figures for one reader.
pub struct Delivery {
    /// Lines received, each counted once.
    pub distinct: u64,
    duplicates: u64,
    /// Lines per second from the first write to the last line received.
    rate: Option<f64>,
}

/// Runs the benchmark: the throughput section and the flood section.
pub fn run(plan: &Plan, command: String) -> (Section, Section) {
    let feed = ports::free_endpoint();
    let text = format!("{CLUSTER_SECTION}state_file = \"\"\nlogs_endpoint = \"{feed}\"\n");
    let master = Master::start_quiet(&text);
    let node = logging_worker("lgbench", &master, "sleep 86400", FILE_STREAM);
    let file = node.dir().join("printer.out");
    let agent = agent_pid(&node.endpoint);
    let master_pid = master.pid();

    let got = Arc::new(Mutex::new(Got::default()));
    let tail_got = Arc::new(Mutex::new(Got::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let subscriber = Subscriber::connect_with_hwm(&feed, &["log.lgbench:printer.".to_string()], 0).expect("subscriber");
    let sub_thread = {
        let (got, stop) = (Arc::clone(&got), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Ok(Some(frames)) = subscriber.recv_timeout(Duration::from_millis(100)) {
                    let line: Value =
                        serde_json::from_slice(frames.get(1).map_or(&[][..], Vec::as_slice)).unwrap_or_default();
                    got.lock().unwrap().take(line["line"].as_str().unwrap_or_default());
                }
            }
        })
    };
    let mut tail = spawn_tail(&file, &tail_got);
    // The subscription is live (and the master follows the agent) once a warm-up line comes.
    let mut out = std::fs::OpenOptions::new().append(true).open(&file).expect("printer.out");
    let warm = Instant::now();
    let mut n = 0;
    while got.lock().unwrap().of("warm").0 == 0 && warm.elapsed() < Duration::from_secs(30) {
        writeln!(out, "warm {n}").unwrap();
        n += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    let warmed = got.lock().unwrap().of("warm").0 > 0;

    let mut table = Table::new(&[
        "phase",
        "offered",
        "lines",
        "via agent+master: received (lost)",
        "via agent+master lines/s",
        "tail -F: received (lost)",
        "tail -F lines/s",
        "agent CPU s / 1M lines",
        "master CPU s / 1M lines",
    ]);
    let mut paced_ok = Vec::new();
    let mut phases: Vec<(String, Option<u64>, u64)> =
        plan.rates.iter().map(|r| (format!("paced{r}"), Some(*r), r * plan.seconds)).collect();
    phases.push(("burst".into(), None, plan.burst));
    for (phase, offered, lines) in &phases {
        let cpu_before = (agent.and_then(cpu_time), master_pid.and_then(cpu_time));
        let started = Instant::now();
        write_lines(&mut out, phase, *lines, *offered);
        let ours = wait_delivery(&got, phase, *lines, started);
        let theirs = wait_delivery(&tail_got, phase, *lines, started);
        let cpu = |before: Option<Duration>, pid: Option<u32>| {
            let spent = pid.and_then(cpu_time)?.checked_sub(before?)?;
            Some(format!("{:.2}", spent.as_secs_f64() / *lines as f64 * 1e6))
        };
        if let Some(rate) = offered {
            // Kept up: every line, and delivered at (nearly) the offered rate, not caught up later.
            let kept_up = ours.rate.is_some_and(|got| got >= 0.95 * *rate as f64);
            paced_ok.push((*rate, warmed && ours.distinct == *lines && kept_up));
        }
        table.row(vec![
            phase.clone(),
            offered.map_or("as fast as possible".into(), |r| rate(r as f64)),
            lines.to_string(),
            received(&ours, *lines),
            ours.rate.map_or("not measured".into(), rate),
            received(&theirs, *lines),
            theirs.rate.map_or("not measured".into(), rate),
            cpu(cpu_before.0, agent).unwrap_or_else(|| "not measured".into()),
            cpu(cpu_before.1, master_pid).unwrap_or_else(|| "not measured".into()),
        ]);
    }

    let flood = crate::logs_flood::section(plan, &master, &mut out, &got, command.clone());
    stop.store(true, Ordering::Relaxed);
    let _ = sub_thread.join();
    let _ = tail.kill();
    let _ = tail.wait();

    let setup = format!(
        "One real circusd node (`lgbench`) with its log agent (`clusterctl join`, `logs_endpoint` in the \
         worker ini) and a master with `[cluster] logs_endpoint`. The benchmark appends numbered lines \
         (about 80 bytes) to the FileStream file of the node's `printer` watcher: paced for {} s at each rate, \
         then {} lines as fast as it can write. Read by a SUB on the master's logs_endpoint (topic \
         `log.lgbench:printer.`, as `clusterctl logs -f`) and, the baseline, by `tail -F -n 0` of the same file \
         in the same run. Lines/s: distinct lines received over the time from the first write to the last \
         line received. CPU: user+system time of the agent and of clusterd during the phase, per million lines.",
        plan.seconds, plan.burst
    );
    let mut verdict = Vec::new();
    if !warmed {
        verdict.push("Target: no line reached the subscriber: not measured.".to_string());
    }
    let met = paced_ok.iter().filter(|(r, ok)| *ok && *r as f64 >= TARGET).map(|(r, _)| *r).max();
    verdict.push(match (warmed, met) {
        (false, _) => "Target: at least 20,000 lines/s per node with nothing lost: **not measured**.".into(),
        (true, Some(rate)) => format!(
            "Target: at least 20,000 lines/s per node with nothing lost: {rate} lines/s paced came through \
             complete, at 95 % of that rate or more: **met**."
        ),
        (true, None) => {
            "Target: at least 20,000 lines/s per node with nothing lost: no paced rate of 20,000/s or more came \
             through complete and at 95 % of its rate or more: **missed**."
                .into()
        }
    });
    let throughput =
        Section { title: "Watcher output: agent and master vs tail -F".into(), command, setup, table, verdict };
    (throughput, flood)
}

/// `received (lost)` of one reader, duplicates named.
fn received(delivery: &Delivery, lines: u64) -> String {
    let mut text = format!("{} ({})", delivery.distinct, lines.saturating_sub(delivery.distinct));
    if delivery.duplicates > 0 {
        text.push_str(&format!(", {} twice", delivery.duplicates));
    }
    text
}

/// Appends `lines` lines of `phase`; paced at `offered` lines/s in 10 ms slices, else at once.
pub fn write_lines(out: &mut std::fs::File, phase: &str, lines: u64, offered: Option<u64>) {
    let started = Instant::now();
    let mut buffer = String::new();
    let mut written = 0;
    while written < lines {
        let due = offered.map_or(lines, |r| ((started.elapsed().as_secs_f64() * r as f64) as u64 + r / 100).min(lines));
        while written < due {
            buffer.push_str(&format!("{phase} {written} the quick brown fox jumps over the lazy dog 0123456789\n"));
            written += 1;
            if buffer.len() > 64 * 1024 {
                out.write_all(buffer.as_bytes()).expect("write printer.out");
                buffer.clear();
            }
        }
        out.write_all(buffer.as_bytes()).expect("write printer.out");
        buffer.clear();
        if offered.is_some() {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Waits until `got` has every line of `phase` or nothing new came for [`DRAIN`].
pub fn wait_delivery(got: &Mutex<Got>, phase: &str, lines: u64, started: Instant) -> Delivery {
    let mut last_change = Instant::now();
    let mut last_count = 0;
    loop {
        let (distinct, duplicates, last) = got.lock().unwrap().of(phase);
        if distinct >= lines || last_change.elapsed() > DRAIN {
            let rate = last.filter(|_| distinct > 0).map(|last| distinct as f64 / (last - started).as_secs_f64());
            return Delivery { distinct, duplicates, rate };
        }
        if distinct != last_count {
            last_count = distinct;
            last_change = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `tail -F -n 0 FILE`, its lines counted into `got`.
fn spawn_tail(file: &std::path::Path, got: &Arc<Mutex<Got>>) -> Child {
    let mut child = Command::new("tail")
        .args(["-F", "-n", "0"])
        .arg(file)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("tail");
    let stdout = child.stdout.take().expect("tail stdout");
    let got = Arc::clone(got);
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            got.lock().unwrap().take(&line);
        }
    });
    child
}

/// The pid of the node's `cluster-join` watcher (the agent), from circusd.
fn agent_pid(endpoint: &str) -> Option<u32> {
    let client = Client::connect(endpoint, Duration::from_secs(5)).ok()?;
    let reply = client.call(&request("list", json!({"name": "cluster-join"}))).ok()?;
    reply.0.get("pids")?.as_array()?.first()?.as_u64().and_then(|pid| u32::try_from(pid).ok())
}
