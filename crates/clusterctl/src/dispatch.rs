//! From a parsed command line to what running it takes ([`Plan`]): the request and its renderer,
//! or a subscription, a viewer, an agent. The one place that knows both the parser
//! ([`crate::cli`]) and the command modules ([`crate::commands`]), so neither imports the other.

use clusterd_protocol::Request;
use serde_json::Map;

use crate::cli::{Command, CompletionShell};
use crate::commands::run::RunArgs;
use crate::commands::{
    dashboard, default_console, ipython, lifecycle, listen, nodes, options, place, procs, query, set, stats,
    watch_nodes, watcher, Render, UsageError,
};

#[cfg(test)]
mod wire_tests;

/// What running a command takes.
pub enum Plan {
    /// Send `request` on the command socket and print the reply with `render`.
    Call {
        /// The request, properties in circusctl's order.
        request: Request,
        /// The console renderer for the reply.
        render: Render,
    },
    /// Subscribe to the event stream with these topic prefixes.
    Listen {
        /// Topic prefixes (`""` for everything).
        topics: Vec<String>,
        /// `--pubsub-endpoint`: the stream to read instead of the one the master names.
        pubsub_endpoint: Option<String>,
    },
    /// Run the stats viewer.
    Top(crate::top::TopArgs),
    /// Register a worker and keep it registered.
    Join(crate::agent::JoinArgs),
    /// Run a one-shot job on a node set.
    Run(RunArgs),
    /// Print a shell completion script.
    Completions(CompletionShell),
    /// Print watcher output (history, then live with `-f`), or download it with `--to`.
    Logs(crate::logs::LogsArgs),
    /// Print (and maybe open) the master's dashboard URL.
    Dashboard(dashboard::DashboardArgs),
    /// Keep a file rendered over the nodes, following the master's events.
    WatchNodes(watch_nodes::WatchNodesArgs),
}

/// Maps a parsed command to its request and renderer (or to a subscription).
///
/// # Errors
/// A [`UsageError`] for arguments the command itself rejects.
pub fn plan(command: &Command) -> Result<Plan, UsageError> {
    use Command as C;
    let call = |request: Request, render: Render| Ok(Plan::Call { request, render });
    match command {
        C::Add(args) => call(watcher::add_request(args), default_console),
        C::Decr(args) => call(procs::incr_request("decr", args), procs::render_incr),
        C::Dstats => call(empty("dstats"), stats::render_dstats),
        C::Get(args) => call(options::get_request(args), options::render_options),
        C::Globaloptions(args) => call(options::globaloptions_request(args), options::render_globaloptions),
        C::Incr(args) => call(procs::incr_request("incr", args), procs::render_incr),
        C::Ipython => call(empty("ipython"), ipython::render),
        C::Kill(args) => call(procs::kill_request(args), default_console),
        C::List(args) => call(query::named_request("list", args), query::render_list),
        C::Listen(args) => {
            Ok(Plan::Listen { topics: listen::topics(args), pubsub_endpoint: args.pubsub_endpoint.clone() })
        }
        C::Listsockets => call(empty("listsockets"), query::render_listsockets),
        C::Numprocesses(args) => call(query::named_request("numprocesses", args), query::render_numprocesses),
        C::Numwatchers => call(empty("numwatchers"), query::render_numwatchers),
        C::Options(args) => call(options::options_request(args), options::render_options),
        C::Quit(args) => call(lifecycle::waiting_request("quit", args), default_console),
        C::Reload(args) => call(lifecycle::reload_request(args), default_console),
        C::Reloadconfig(args) => call(lifecycle::waiting_request("reloadconfig", args), lifecycle::render_reloadconfig),
        C::Restart(args) => call(lifecycle::match_request("restart", args), default_console),
        C::Rm(args) => call(watcher::rm_request(args), default_console),
        C::Set(args) => call(set::set_request(args)?, default_console),
        C::Signal(args) => call(procs::signal_request(args)?, default_console),
        C::Start(args) => call(lifecycle::match_request("start", args), default_console),
        C::Stats(args) => call(stats::stats_request(args), stats::render_stats),
        C::Status(args) => call(query::named_request("status", args), query::render_status),
        C::Stop(args) => call(lifecycle::match_request("stop", args), default_console),
        C::Top(args) => Ok(Plan::Top(args.clone())),
        C::RegisterNode(args) => call(nodes::register_request(args), nodes::render_register),
        C::UnregisterNode(args) => call(nodes::unregister_request(args), nodes::render_unregister),
        C::Nodes => call(empty("nodes"), nodes::render_nodes),
        C::Nodelist => call(empty("nodelist"), nodes::render_nodelist),
        C::Join(args) => Ok(Plan::Join(args.clone())),
        C::Run(args) => Ok(Plan::Run(args.clone())),
        C::Completions(args) => Ok(Plan::Completions(args.shell)),
        C::Dashboard(args) => Ok(Plan::Dashboard(args.clone())),
        C::WatchNodes(args) => Ok(Plan::WatchNodes(args.clone())),
        C::Logs(args) => Ok(Plan::Logs(args.clone())),
        C::Place(args) => call(place::place_request(args), place::render_place),
        C::Placements => call(empty("placements"), place::render_placements),
        C::Drain(args) => call(place::drain_request("drain", args), place::render_drain),
        C::Undrain(args) => call(place::drain_request("undrain", args), place::render_drain),
    }
}

/// A request with `{}` as properties.
fn empty(command: &str) -> Request {
    Request::new(command, Map::new())
}
