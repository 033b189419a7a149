//! `simnode`: simulated circusd nodes for benchmarks and scale tests.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use clusterd_simnode::Options;

/// Simulated circusd nodes (for clusterd's benchmarks and scale tests only): each answers
/// status, list, numprocesses, numwatchers, incr, decr, globaloptions, dstats and stats like
/// circusd 0.19, and publishes a circusd-stats-shaped stream. Prints one JSON line per node
/// (name and endpoints) once all are bound; stops on SIGINT or SIGTERM.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// How many nodes this process hosts.
    #[arg(long, default_value_t = 1)]
    nodes: usize,
    /// Interface to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Node i binds BASE+3i (command), +1 (events), +2 (stats); default: free ports.
    #[arg(long)]
    base_port: Option<u16>,
    /// Node names: PREFIX and a zero-padded number.
    #[arg(long, default_value = "sim")]
    name_prefix: String,
    /// Watchers per node.
    #[arg(long, default_value_t = 2)]
    watchers: usize,
    /// Processes per watcher.
    #[arg(long, default_value_t = 2)]
    processes: usize,
    /// Interval between stats cycles (circusd-stats: 1s).
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    stats_interval: Duration,
    /// Delay before the first stats cycle.
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    stats_delay: Duration,
    /// Stop publishing stats after this many cycles (default: never).
    #[arg(long)]
    stats_cycles: Option<u64>,
    /// Restart each node at random, this long apart on average (default: never).
    #[arg(long, value_parser = humantime::parse_duration)]
    restart_mean: Option<Duration>,
    /// How long a restarting node stays unreachable.
    #[arg(long, default_value = "500ms", value_parser = humantime::parse_duration)]
    restart_downtime: Duration,
    /// Stop restarting nodes this long after the start (default: never stop).
    #[arg(long, value_parser = humantime::parse_duration)]
    restarts_for: Option<Duration>,
    /// Seed of the restart schedule.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.base_port.is_some_and(|base| usize::from(base) + 3 * cli.nodes > usize::from(u16::MAX)) {
        eprintln!("simnode: --base-port plus 3 × --nodes goes past port 65535");
        return ExitCode::from(2);
    }
    // Three sockets per node, each with its descriptors: a thousand nodes need far more than 1,024.
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let options = Options {
        nodes: cli.nodes,
        host: cli.host,
        base_port: cli.base_port,
        name_prefix: cli.name_prefix,
        watchers: cli.watchers,
        processes: cli.processes,
        stats_interval: cli.stats_interval,
        stats_delay: cli.stats_delay,
        stats_cycles: cli.stats_cycles,
        restart_mean: cli.restart_mean,
        restart_downtime: cli.restart_downtime,
        restarts_for: cli.restarts_for,
        seed: cli.seed,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("simnode: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(clusterd_simnode::run(options, stop_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("simnode: {err}");
            ExitCode::FAILURE
        }
    }
}

/// SIGINT or SIGTERM.
async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) {
        (Ok(mut int), Ok(mut term)) => {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        }
        _ => std::future::pending().await,
    }
}
