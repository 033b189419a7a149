//! `clusterd-bench`: clusterd's benchmarks. `make bench` runs `clusterd-bench all --out
//! docs/benchmarks.md` on a release build; each benchmark also runs alone and prints its
//! section. Every figure is measured beside its baseline in the same run, on real processes:
//! clusterd, simnode, and (for the proxy hop) a real circusd from the project's venv.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

mod budget;
mod failure;
mod fanout;
mod fleet;
mod forwarding;
mod http_load;
mod logs;
mod logs_flood;
mod memory;
mod placement;
mod proxy;
mod report;
mod startup;
mod stats;
mod subscriber;
mod sys;

/// Benchmarks of clusterd against same-run baselines (see docs/benchmarks.md).
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    bench: Bench,
}

#[derive(Subcommand)]
enum Bench {
    /// Every benchmark, written as one Markdown report.
    All {
        /// Where to write the report.
        #[arg(long, default_value = "docs/benchmarks.md")]
        out: PathBuf,
        /// Smaller sizes and fewer rounds: checks that every benchmark runs, in a minute or two.
        #[arg(long)]
        quick: bool,
    },
    /// `status NAME` straight to a node, through a libzmq `zmq_proxy` hop and through clusterd.
    Proxy {
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        #[arg(long, default_value_t = 2000)]
        requests: usize,
    },
    /// `status` over 10, 100, 1,000, 5,000 simnodes vs a sequential loop.
    Fanout {
        #[arg(long, value_delimiter = ',', default_value = "10,100,1000,5000")]
        sizes: Vec<usize>,
        #[arg(long, default_value_t = 30)]
        repeats: usize,
        #[arg(long, default_value_t = 5)]
        loops: usize,
    },
    /// Stats forwarding from 1,000 simnodes vs a plain SUB→PUB relay.
    Forwarding {
        #[arg(long, default_value_t = 1000)]
        nodes: usize,
        #[arg(long, value_delimiter = ',', default_value = "1000,200,100,80,67,57,50,33,20")]
        intervals_ms: Vec<u64>,
        #[arg(long, default_value = "3s", value_parser = humantime_secs)]
        burst: Duration,
    },
    /// clusterd's memory with 0, 1,000 and 5,000 nodes, with nobody subscribed and with one
    /// subscriber to `stat.`, then start-up over the state file.
    Memory {
        #[arg(long, value_delimiter = ',', default_value = "0,1000,5000")]
        steps: Vec<usize>,
        #[arg(long, default_value = "10s", value_parser = humantime_secs)]
        settle: Duration,
        #[arg(long, default_value_t = 3)]
        restarts: usize,
    },
    /// Time from kill -9 of a node to `down`, among 10 and 1,000 nodes.
    Failure {
        #[arg(long, value_delimiter = ',', default_value = "10,1000")]
        sizes: Vec<usize>,
        #[arg(long, default_value_t = 5)]
        kills: usize,
    },
    /// The command endpoint with 20 dashboard event streams and a 10 Hz /metrics scrape, vs none.
    HttpLoad {
        #[arg(long, default_value_t = 200)]
        nodes: usize,
        #[arg(long, default_value_t = 20)]
        streams: usize,
        #[arg(long, default_value_t = 10)]
        scrape_hz: u64,
        #[arg(long, default_value_t = 200)]
        requests: usize,
    },
    /// One placement decision (dry run) over 1,000 simnodes, beside a `status` fan-out.
    Placement {
        #[arg(long, default_value_t = 1000)]
        nodes: usize,
        #[arg(long, default_value_t = 200)]
        repeats: usize,
    },
    /// Watcher output through a node's log agent and the master vs `tail -F`, and a flooding
    /// node's effect on stats and commands.
    Logs {
        #[arg(long, value_delimiter = ',', default_value = "20000,50000")]
        rates: Vec<u64>,
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        #[arg(long, default_value_t = 200_000)]
        burst: u64,
    },
    /// The baseline relay (a SUB on every endpoint of FILE, zmq_proxy to a PUB on --to).
    #[command(hide = true)]
    Relay {
        #[arg(long)]
        to: String,
        #[arg(long)]
        from_file: PathBuf,
    },
    /// The baseline command hop (a ROUTER bound on --front, a DEALER to --back, zmq_proxy).
    #[command(hide = true)]
    HopRelay {
        #[arg(long)]
        front: String,
        #[arg(long)]
        back: String,
    },
}

fn humantime_secs(text: &str) -> Result<Duration, String> {
    text.trim_end_matches('s')
        .parse::<u64>()
        .map(Duration::from_secs)
        .map_err(|e| format!("{text}: {e} (write e.g. 10s)"))
}

fn main() {
    let cli = Cli::parse();
    // Thousands of simulated nodes and their connections: far past the usual 1,024 descriptors.
    sys::raise_open_files(1 << 20);
    match cli.bench {
        Bench::All { out, quick } => all(&out, quick),
        Bench::Relay { to, from_file } => {
            let text = std::fs::read_to_string(&from_file).unwrap_or_else(|e| panic!("{}: {e}", from_file.display()));
            let from: Vec<String> = text.lines().filter(|l| !l.is_empty()).map(str::to_string).collect();
            // The same queue limits as clusterd's node feeds (per connection) and merged PUB
            // (per subscriber, small messages).
            use clusterd_protocol::connection::stream::{NODE_STREAM_QUEUE, SUBSCRIBER_QUEUE};
            if let Err(err) =
                clusterd_protocol::connection::relay(&from, b"stat.", &to, NODE_STREAM_QUEUE, SUBSCRIBER_QUEUE)
            {
                eprintln!("relay: {err}");
                std::process::exit(1);
            }
        }
        Bench::HopRelay { front, back } => {
            if let Err(err) = clusterd_protocol::connection::hop_relay(&front, &back) {
                eprintln!("hop-relay: {err}");
                std::process::exit(1);
            }
        }
        Bench::Memory { steps, settle, restarts } => {
            let command = format!(
                "target/release/clusterd-bench memory --steps {} --settle {}s --restarts {restarts}",
                join(&steps),
                settle.as_secs()
            );
            let plan = memory::Plan { steps, settle, restarts };
            let (memory, startup) = run_memory(&plan, command);
            print!("{}{}", memory.markdown(), startup.markdown());
        }
        Bench::Logs { rates, seconds, burst } => {
            let (throughput, flood) = run_logs(rates, seconds, burst);
            print!("{}{}", throughput.markdown(), flood.markdown());
        }
        other => print!("{}", single(other).markdown()),
    }
}

fn single(bench: Bench) -> report::Section {
    let me = "target/release/clusterd-bench";
    match bench {
        Bench::Proxy { rounds, requests } => {
            proxy::run(&proxy::Plan { rounds, requests }, format!("{me} proxy --rounds {rounds} --requests {requests}"))
        }
        Bench::Fanout { sizes, repeats, loops } => {
            let command = format!("{me} fanout --sizes {} --repeats {repeats} --loops {loops}", join(&sizes));
            fanout::run(&fanout::Plan { sizes, repeats, loops }, command)
        }
        Bench::Forwarding { nodes, intervals_ms, burst } => {
            let command = format!(
                "{me} forwarding --nodes {nodes} --intervals-ms {} --burst {}s",
                join(&intervals_ms),
                burst.as_secs()
            );
            forwarding::run(&forwarding::Plan { nodes, intervals_ms, burst }, command)
        }
        Bench::Failure { sizes, kills } => {
            let command = format!("{me} failure --sizes {} --kills {kills}", join(&sizes));
            failure::run(&failure::Plan { sizes, kills }, command)
        }
        Bench::HttpLoad { nodes, streams, scrape_hz, requests } => {
            let command = format!(
                "{me} http-load --nodes {nodes} --streams {streams} --scrape-hz {scrape_hz} --requests {requests}"
            );
            http_load::run(&http_load::Plan { nodes, streams, scrape_hz, requests }, command)
        }
        Bench::Placement { nodes, repeats } => {
            let command = format!("{me} placement --nodes {nodes} --repeats {repeats}");
            placement::run(&placement::Plan { nodes, repeats }, command)
        }
        Bench::Memory { .. }
        | Bench::All { .. }
        | Bench::Relay { .. }
        | Bench::Logs { .. }
        | Bench::HopRelay { .. } => {
            unreachable!("handled by the caller")
        }
    }
}

/// The two tables of `memory`: memory per node, then start-up over the same clusterd's state file.
fn run_memory(plan: &memory::Plan, command: String) -> (report::Section, report::Section) {
    let (memory, mut master, groups, largest) = memory::run(plan, command.clone());
    let (_, _, lowered) = memory::feasible(&plan.steps);
    let startup = startup::run(plan.restarts, &mut master, largest, lowered, format!("{command} (second table)"));
    drop(master);
    drop(groups);
    (memory, startup)
}

/// The two tables of `logs`.
fn run_logs(rates: Vec<u64>, seconds: u64, burst: u64) -> (report::Section, report::Section) {
    let command =
        format!("target/release/clusterd-bench logs --rates {} --seconds {seconds} --burst {burst}", join(&rates));
    logs::run(&logs::Plan { rates, seconds, burst }, command)
}

fn join<T: ToString>(values: &[T]) -> String {
    values.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
}

fn all(out: &std::path::Path, quick: bool) {
    let started = std::time::Instant::now();
    let benches = if quick {
        vec![
            Bench::Proxy { rounds: 2, requests: 300 },
            Bench::Fanout { sizes: vec![10, 100], repeats: 5, loops: 2 },
            Bench::Forwarding { nodes: 100, intervals_ms: vec![1000, 100], burst: Duration::from_secs(2) },
            Bench::Failure { sizes: vec![10], kills: 2 },
            Bench::HttpLoad { nodes: 50, streams: 5, scrape_hz: 10, requests: 30 },
            Bench::Placement { nodes: 100, repeats: 20 },
        ]
    } else {
        vec![
            Bench::Proxy { rounds: 5, requests: 2000 },
            Bench::Fanout { sizes: vec![10, 100, 1000, 5000], repeats: 30, loops: 5 },
            Bench::Forwarding {
                nodes: 1000,
                intervals_ms: vec![1000, 200, 100, 80, 67, 57, 50, 33, 20],
                burst: Duration::from_secs(3),
            },
            Bench::Failure { sizes: vec![10, 1000], kills: 5 },
            Bench::HttpLoad { nodes: 200, streams: 20, scrape_hz: 10, requests: 200 },
            Bench::Placement { nodes: 1000, repeats: 200 },
        ]
    };
    let mut sections = Vec::new();
    for bench in benches {
        let section = single(bench);
        eprint!("{}", section.markdown());
        sections.push(section);
    }
    let (rates, seconds, burst) = if quick { (vec![20_000], 2, 50_000) } else { (vec![20_000, 50_000], 5, 200_000) };
    let (throughput, flood) = run_logs(rates, seconds, burst);
    eprint!("{}{}", throughput.markdown(), flood.markdown());
    sections.push(throughput);
    sections.push(flood);
    let (steps, settle, restarts) = if quick {
        (vec![0, 200], Duration::from_secs(2), 1)
    } else {
        (vec![0, 1000, 5000], Duration::from_secs(10), 3)
    };
    let me = "target/release/clusterd-bench";
    let memory_command =
        format!("{me} memory --steps {} --settle {}s --restarts {restarts}", join(&steps), settle.as_secs());
    let (memory, startup) = run_memory(&memory::Plan { steps, settle, restarts }, memory_command);
    eprint!("{}{}", memory.markdown(), startup.markdown());
    sections.push(memory);
    sections.push(startup);
    let document = report::document(&sections, started.elapsed(), quick);
    std::fs::write(out, document).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
    eprintln!("wrote {} in {:.0} s", out.display(), started.elapsed().as_secs_f64());
}
