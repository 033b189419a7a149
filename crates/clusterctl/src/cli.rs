//! Command-line syntax: `clusterctl [OPTIONS] <COMMAND> [ARGS]`, circusctl's commands and
//! arguments plus the cluster commands. Global options are accepted anywhere on the line, before
//! or after the command and its arguments (circusctl only takes them before the command).

use std::ffi::OsString;

use clap::error::ErrorKind;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::agent;
use crate::commands::{
    dashboard, lifecycle, listen, nodes, options, place, procs, query, run, set, stats, watch_nodes, watcher,
};
use crate::global_args::GlobalArgs;
use crate::top;

/// The whole command line.
#[derive(Parser, Debug)]
#[command(
    name = "clusterctl",
    version,
    arg_required_else_help = true,
    about = "Controls a clusterd master or a plain circusd (a drop-in for circusctl)",
    after_help = crate::help::AFTER_HELP
)]
pub struct Cli {
    /// Options shared by every command.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Every command, in circusctl's alphabetical order, then the cluster commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Add a watcher
    Add(watcher::AddArgs),
    /// Decrement the number of processes in a watcher
    Decr(procs::IncrArgs),
    /// Get circusd stats
    Dstats,
    /// Get the value of specific watcher options
    Get(options::GetArgs),
    /// Get the arbiter options
    Globaloptions(options::GlobalOptionsArgs),
    /// Increment the number of processes in a watcher
    Incr(procs::IncrArgs),
    /// Create shell into circusd process
    Ipython,
    /// Kill a specific process
    Kill(procs::KillArgs),
    /// Get list of watchers or processes in a watcher
    List(query::NameArgs),
    /// Subscribe to watcher and cluster events and print them
    Listen(listen::ListenArgs),
    /// Get the list of sockets
    Listsockets,
    /// Get the number of processes
    Numprocesses(query::NameArgs),
    /// Get the number of watchers
    Numwatchers,
    /// Get the value of all options for a watcher
    Options(options::OptionsArgs),
    /// Quit the arbiter immediately
    Quit(lifecycle::WaitingArgs),
    /// Reload the arbiter or a watcher
    Reload(lifecycle::ReloadArgs),
    /// Reload the configuration file
    Reloadconfig(lifecycle::WaitingArgs),
    /// Restart the arbiter or a watcher
    Restart(lifecycle::MatchArgs),
    /// Remove a watcher
    Rm(watcher::RmArgs),
    /// Set a watcher option
    Set(set::SetArgs),
    /// Send a signal
    #[command(override_usage = "clusterctl signal [OPTIONS] <NAME> [PID] <SIGNUM>")]
    Signal(procs::SignalArgs),
    /// Start the arbiter or a watcher
    Start(lifecycle::MatchArgs),
    /// Get process infos
    Stats(stats::StatsArgs),
    /// Get the status of a watcher or all watchers
    Status(query::NameArgs),
    /// Stop watchers
    Stop(lifecycle::MatchArgs),
    /// Live view of the cluster's processes (CPU, memory, age) by node and watcher
    Top(top::TopArgs),
    /// Register a circusd node with the master (or replace the node of that name)
    #[command(name = "register_node")]
    RegisterNode(nodes::RegisterArgs),
    /// Remove a node from the master
    #[command(name = "unregister_node")]
    UnregisterNode(nodes::UnregisterArgs),
    /// Show the master's nodes and their health
    Nodes,
    /// List node names and endpoints
    Nodelist,
    /// Run a one-shot job on every node of --node: clusterctl --node all run NAME -- CMD ARGS...
    Run(run::RunArgs),
    /// Register this circusd worker with the master named in its ini and keep it registered
    /// (run it as a watcher of that circusd; unregisters on SIGTERM)
    #[command(after_help = "Run it as a watcher of the circusd whose ini it reads:\n\n  \
                            [circus]\n  node = second\n  master = tcp://127.0.0.1:5558\n\n  \
                            [watcher:cluster-join]\n  cmd = clusterctl join /etc/circus/worker.ini\n\n\
                            It retries until the master answers, registers again whenever the master \
                            forgets the node, unregisters on SIGTERM or SIGINT, and exits without \
                            unregistering when circusd dies. One line per event on stderr. \
                            --endpoint, --node and --timeout do not apply. \
                            Exit status 2 when the ini cannot be read or lacks node or master.")]
    Join(agent::JoinArgs),
    /// Print a shell completion script: clusterctl completions bash|zsh|fish
    Completions(CompletionsArgs),
    /// Watcher output of every node: clusterctl --node all logs printer -n 5 [-f] [--to DIR]
    Logs(crate::logs::LogsArgs),
    /// Print the URL of the master's web dashboard (its http_endpoint); --open opens it
    Dashboard(dashboard::DashboardArgs),
    /// Keep a file rendered from a template over the cluster's nodes, and run a command each
    /// time it changes (a load balancer's backend list)
    WatchNodes(watch_nodes::WatchNodesArgs),
    /// Add a watcher where the master chooses: clusterctl place NAME [--on SET] -- CMD ARGS...
    Place(place::PlaceArgs),
    /// Show the placed watchers, where they run and the drained nodes
    Placements,
    /// Mark a node unschedulable and move its placed watchers elsewhere
    Drain(place::DrainArgs),
    /// Let a drained node take placed watchers again
    Undrain(place::DrainArgs),
}

/// The shells `completions` writes a script for.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompletionShell {
    /// `source <(clusterctl completions bash)`, or save to /etc/bash_completion.d/clusterctl
    Bash,
    /// save as `_clusterctl` in a folder of `$fpath`
    Zsh,
    /// save to ~/.config/fish/completions/clusterctl.fish
    Fish,
}

/// `completions <SHELL>`.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "\
Examples:
  source <(clusterctl completions bash)
  clusterctl completions zsh > ~/.zfunc/_clusterctl     (with fpath+=~/.zfunc)
  clusterctl completions fish > ~/.config/fish/completions/clusterctl.fish")]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: CompletionShell,
}

/// A parsed command line and the name of its command (for usage errors found later).
#[derive(Debug)]
pub struct Parsed {
    /// The parsed options and command.
    pub cli: Cli,
    /// The subcommand as typed, e.g. `register_node`.
    pub name: String,
}

/// Parses `args` (the first item is the program name).
///
/// # Errors
/// A clap error for bad arguments, and also for `--help` / `--version` (kinds
/// [`ErrorKind::DisplayHelp`] / [`ErrorKind::DisplayVersion`]), which the caller prints.
pub fn parse<I, T>(args: I) -> Result<Parsed, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let matches = Cli::command().try_get_matches_from(args)?;
    let name = matches.subcommand_name().unwrap_or_default().to_string();
    let cli = Cli::from_arg_matches(&matches)?;
    Ok(Parsed { cli, name })
}

/// A usage error for `subcommand`, rendered by clap with that command's usage line.
pub fn usage_error(subcommand: &str, message: &str) -> clap::Error {
    let mut root = Cli::command();
    root.build();
    match root.find_subcommand_mut(subcommand) {
        Some(sub) => sub.error(ErrorKind::ValueValidation, message),
        None => root.error(ErrorKind::ValueValidation, message),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Parses a whitespace-separated command line.
    fn parse_line(line: &str) -> Result<Parsed, clap::Error> {
        parse(std::iter::once("clusterctl").chain(line.split_whitespace()))
    }

    #[test]
    fn global_options_are_accepted_after_the_command() {
        let parsed = parse_line("incr dummy --endpoint tcp://127.0.0.1:5558 --node first").unwrap();
        assert_eq!(parsed.name, "incr");
        assert_eq!(parsed.cli.global.endpoint.as_deref(), Some("tcp://127.0.0.1:5558"));
        assert_eq!(parsed.cli.global.node.as_deref(), Some("first"));
        let parsed = parse_line("--json status --timeout 1.5 --prettify").unwrap();
        assert!(parsed.cli.global.json && parsed.cli.global.prettify);
        assert_eq!(parsed.cli.global.timeout, Duration::from_millis(1500));
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        for line in ["", "bogus", "incr", "incr dummy x", "--timeout -1 list", "status --frobnicate"] {
            let err = parse_line(line).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{line}");
        }
        let err = usage_error("set", "List of key/values is invalid");
        let text = err.render().to_string();
        assert!(text.contains("List of key/values is invalid"), "{text}");
        assert!(text.contains("clusterctl set"), "{text}");
    }

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
        // A command argument with a global's id would shadow that global after the command.
        let globals = ["endpoint", "timeout", "json", "prettify", "node", "batch", "wait", "keep_going"];
        for sub in Cli::command().get_subcommands() {
            for arg in sub.get_arguments() {
                assert!(!globals.contains(&arg.get_id().as_str()), "{} {}", sub.get_name(), arg.get_id());
            }
        }
    }

    #[test]
    fn rolling_options_are_accepted_anywhere() {
        let parsed = parse_line("--node all!second restart dummy --batch 1 --wait").unwrap();
        let global = &parsed.cli.global;
        assert_eq!((global.node.as_deref(), global.batch, global.wait), (Some("all!second"), Some(1), true));
        let parsed = parse_line("--batch 2 --keep-going restart dummy --node web*").unwrap();
        assert!(parsed.cli.global.keep_going && parsed.cli.global.batch == Some(2));
        assert_eq!(parse_line("restart dummy --batch 0").unwrap_err().exit_code(), 2);
    }

    #[test]
    fn run_takes_its_command_after_a_double_dash() {
        let line = ["clusterctl", "--node", "all", "run", "reset", "--env", "A=1", "--env", "B=x=y", "--cwd", "/tmp"];
        let tail = ["--job-timeout", "5m", "--", "sh", "-c", "rm -rf /tmp/exp-data", "--batch", "1"];
        let parsed = parse(line.iter().chain(&tail)).unwrap();
        let Command::Run(run) = &parsed.cli.command else { panic!("{:?}", parsed.cli.command) };
        assert_eq!(run.name, "reset");
        assert_eq!(run.command, ["sh", "-c", "rm -rf /tmp/exp-data", "--batch", "1"]);
        assert_eq!(run.env, [("A".to_string(), "1".to_string()), ("B".to_string(), "x=y".to_string())]);
        assert_eq!(run.cwd.as_deref(), Some("/tmp"));
        assert_eq!(run.job_timeout, Some(Duration::from_secs(300)));
        assert_eq!(parsed.cli.global.batch, None, "options after -- belong to the job");
        for bad in ["run reset", "run reset sh", "run a.b -- true", "run x --env novalue -- true"] {
            assert_eq!(parse_line(bad).unwrap_err().exit_code(), 2, "{bad}");
        }
    }

    #[test]
    fn help_and_version_exit_zero() {
        assert_eq!(parse_line("--help").unwrap_err().exit_code(), 0);
        assert_eq!(parse_line("--version").unwrap_err().exit_code(), 0);
        assert_eq!(parse_line("kill --help").unwrap_err().exit_code(), 0);
    }
}
