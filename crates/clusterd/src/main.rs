//! `clusterd CONFIG`: runs the cluster master in the foreground.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use clusterd::config::Config;

/// Cluster master for the Circus process manager: one Circus-compatible endpoint for a pool
/// of circusd nodes.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// Configuration file: TOML (cluster.toml) or the 2012 circusd-cluster INI (*.ini).
    config: PathBuf,
    /// Check the configuration and exit.
    #[arg(long)]
    check: bool,
    /// Start without the saved registered and discovered nodes: an unreadable state file is
    /// moved aside (FILE.corrupt) first.
    #[arg(long)]
    reset_state: bool,
    /// More log output (-v debug, -vv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(&cli.config) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("clusterd: {err}");
            return ExitCode::from(2);
        }
    };
    if cli.check {
        println!("{}: ok ({} nodes)", cli.config.display(), config.nodes.len());
        return ExitCode::SUCCESS;
    }
    if let Err(err) = clusterd::logging::install(cli.verbose, config.cluster.audit_log.as_deref()) {
        eprintln!("clusterd: {err}");
        return ExitCode::from(2);
    }
    if cli.reset_state {
        if let Some(path) = &config.cluster.state_file {
            match clusterd::state::StateFile::new(path).reset() {
                Ok(Some(aside)) => eprintln!("clusterd: moved {} to {}", path.display(), aside.display()),
                Ok(None) => {}
                Err(err) => {
                    eprintln!("clusterd: {err}");
                    return ExitCode::from(2);
                }
            }
        }
    }
    raise_open_files_limit();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("clusterd: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(clusterd::run(config, clusterd::signal::shutdown())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err @ clusterd::ServeError::State(_)) => {
            eprintln!("clusterd: {err}");
            ExitCode::from(2)
        }
        Err(err) => {
            eprintln!("clusterd: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Each node costs the master a few descriptors (three ZeroMQ sockets, each with its TCP
/// connection and its mailbox), so thousands of nodes need far more than the usual soft limit
/// of 1,024: raise it to the hard limit, as servers do.
fn raise_open_files_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open files limit"),
        Err(err) => tracing::warn!(cause = %err, "cannot raise the open files limit"),
    }
}
