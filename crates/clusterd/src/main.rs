//! `clusterd CONFIG`: runs the cluster master in the foreground.
//! `clusterd migrate-state --to etcd CONFIG`: copies the state file into etcd (docs/ha.md).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use clusterd::config::Config;

/// Cluster master for the Circus process manager: one Circus-compatible endpoint for a pool
/// of circusd nodes.
#[derive(Parser)]
#[command(
    version,
    about,
    long_about = None,
    after_help = "Exit status: 0 after SIGINT, SIGTERM or a quit command (a graceful stop); 1 when an endpoint \
                  cannot be bound; 2 for a bad configuration (one line naming the file, the key and why), \
                  also with --check; 130 after a second SIGINT.\n\n\
                  Talk to it with circusctl or clusterctl on its endpoint (default tcp://127.0.0.1:5558). \
                  See docs/operations.md."
)]
struct Cli {
    /// Configuration file: TOML (cluster.toml) or the 2012 circusd-cluster INI (*.ini).
    #[arg(required_unless_present = "man")]
    config: Option<PathBuf>,
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
    /// Write the man page clusterd.1 into this folder and exit (`make man`).
    #[arg(long, value_name = "DIR", hide = true)]
    man: Option<PathBuf>,
}

/// `clusterd migrate-state --to etcd CONFIG`: copies the registered and discovered nodes and
/// the placement state of CONFIG's state file into the etcd of its `etcd_endpoints`, under its
/// `etcd_prefix`, before the masters switch to `registry = "etcd"`. Keys etcd already has are
/// left as they are.
#[derive(Parser)]
#[command(name = "clusterd migrate-state")]
struct MigrateCli {
    /// Where to copy the state file: `etcd` (the only shared registry).
    #[arg(long, value_parser = ["etcd"])]
    to: String,
    /// The master's configuration file (its state_file and etcd_* keys are used).
    config: PathBuf,
}

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("migrate-state") {
        return migrate_state(MigrateCli::parse_from(std::env::args().skip(1)));
    }
    let cli = Cli::parse();
    if let Some(dir) = &cli.man {
        return write_man(dir);
    }
    let Some(path) = cli.config.as_deref() else {
        eprintln!("clusterd: a configuration file is required");
        return ExitCode::from(2);
    };
    let config = match Config::load(path) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("clusterd: {err}");
            return ExitCode::from(2);
        }
    };
    if cli.check {
        println!("{}: ok ({} nodes)", path.display(), config.nodes.len());
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
    // The master runs as a task, on a worker thread: `block_on` would keep its command loop on
    // this thread, outside the workers that drive I/O and run the request and link tasks, and
    // every request would then cross threads twice more (a futex wake-up each way).
    let master = runtime.spawn(clusterd::run(config, clusterd::signal::shutdown()));
    let outcome = match runtime.block_on(master) {
        Ok(outcome) => outcome,
        Err(err) => {
            eprintln!("clusterd: the master task failed: {err}");
            return ExitCode::FAILURE;
        }
    };
    match outcome {
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

/// Runs `clusterd migrate-state`: exit 0 when done, 2 for a bad configuration, 1 when the
/// state file or etcd cannot be used.
fn migrate_state(cli: MigrateCli) -> ExitCode {
    let config = match Config::load(&cli.config) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("clusterd: {err}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("clusterd: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let prefix = &config.cluster.registry.etcd_prefix;
    match runtime.block_on(clusterd::etcd::migrate::migrate(&config)) {
        Ok(done) => {
            println!(
                "migrated {} node(s) to {} under {prefix}: {} written, {} already there",
                done.written.len() + done.kept.len(),
                cli.to,
                done.written.len(),
                done.kept.len()
            );
            for name in &done.kept {
                println!("kept (already in etcd): {name}");
            }
            println!(
                "migrated {} placement(s): {} written, {} already there",
                done.placements_written.len() + done.placements_kept.len(),
                done.placements_written.len(),
                done.placements_kept.len()
            );
            for name in &done.placements_kept {
                println!("kept placement (already in etcd): {name}");
            }
            ExitCode::SUCCESS
        }
        Err(reason) => {
            eprintln!("clusterd: migrate-state: {reason}");
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

/// Writes `dir/clusterd.1` from the command-line definition, so the page never drifts from
/// `--help`.
fn write_man(dir: &std::path::Path) -> ExitCode {
    let mut page = Vec::new();
    let written = clap_mangen::Man::new(Cli::command()).render(&mut page).and_then(|()| {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("clusterd.1"), page)
    });
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("clusterd: cannot write {}: {err}", dir.join("clusterd.1").display());
            ExitCode::FAILURE
        }
    }
}
