//! One module per command or family of commands. Each builds the request exactly as circusctl
//! does (`request`) and renders the reply exactly as circusctl's `console_msg` (`render`);
//! [`plan`] is the only dispatcher. `top` lives in its own module tree, [`crate::top`].

pub mod dashboard;
pub mod ipython;
pub mod lifecycle;
pub mod listen;
pub mod nodes;
pub mod options;
pub mod place;
pub mod procs;
pub mod query;
pub mod run;
pub mod set;
pub mod signum;
pub mod stats;
pub mod watch_nodes;
pub mod watcher;

#[cfg(test)]
mod wire_tests;

use clusterd_protocol::{Reply, Request};
use serde_json::{Map, Value};

use crate::cli::Command;
use crate::pystr::{py_str, py_str_opt};

/// Turns a reply into console text, or says which field circusctl would have crashed on.
pub type Render = fn(&Reply) -> Result<String, Malformed>;

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
    Run(run::RunArgs),
    /// Print a shell completion script.
    Completions(crate::manual::CompletionShell),
    /// Print watcher output (history, then live with `-f`), or download it with `--to`.
    Logs(crate::logs::LogsArgs),
    /// Print (and maybe open) the master's dashboard URL.
    Dashboard(dashboard::DashboardArgs),
    /// Keep a file rendered over the nodes, following the master's events.
    WatchNodes(watch_nodes::WatchNodesArgs),
}

/// Arguments that clap accepted but the command rejects (wrong count, bad value): exit status 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl UsageError {
    /// A usage error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        UsageError(message.into())
    }
}

/// A reply lacking a field the console needs (circusctl dies with a `KeyError` there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed(pub String);

impl Malformed {
    /// The reply lacks `field`, or it has the wrong type.
    pub fn field(field: &str) -> Self {
        Malformed(format!("missing or invalid '{field}'"))
    }
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

/// Every command module builds its request with the protocol crate's one builder.
pub use clusterd_protocol::request;

/// A request with `{}` as properties.
fn empty(command: &str) -> Request {
    Request::new(command, Map::new())
}

/// `msg['status'] == "ok"`.
pub fn is_ok(reply: &Reply) -> bool {
    reply.status() == Some("ok")
}

/// circusctl's `console_error`: `error: <reason>` (`None` when there is no reason).
pub fn console_error(reply: &Reply) -> String {
    format!("error: {}", py_str_opt(reply.0.get("reason")))
}

/// circusctl's default `console_msg`: `ok`, or the error.
pub fn default_console(reply: &Reply) -> Result<String, Malformed> {
    Ok(if is_ok(reply) { "ok".into() } else { console_error(reply) })
}

/// The reply's `warning` (one text) and `warnings` (a list), in that order.
pub fn warnings(reply: &Reply) -> Vec<String> {
    let mut found: Vec<String> = reply.0.get("warning").map(py_str).into_iter().collect();
    if let Some(Value::Array(list)) = reply.0.get("warnings") {
        found.extend(list.iter().map(py_str));
    }
    found
}

/// The reply's `key` field, or [`Malformed`] naming it.
pub fn field<'a>(reply: &'a Reply, key: &str) -> Result<&'a Value, Malformed> {
    reply.0.get(key).ok_or_else(|| Malformed::field(key))
}

/// Test helper: a reply parsed from JSON text.
#[cfg(test)]
pub fn reply(text: &str) -> Reply {
    Reply::decode(text.as_bytes()).expect("test reply is a JSON object")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_console_prints_ok_or_the_reason() {
        assert_eq!(default_console(&reply(r#"{"status": "ok", "time": 1.0}"#)).unwrap(), "ok");
        let err = reply(r#"{"status": "error", "reason": "program nope not found", "errno": 3}"#);
        assert_eq!(default_console(&err).unwrap(), "error: program nope not found");
        assert_eq!(default_console(&reply(r#"{"status": "error"}"#)).unwrap(), "error: None");
        assert_eq!(default_console(&reply(r#"{"status": "active"}"#)).unwrap(), "error: None");
    }

    #[test]
    fn warnings_are_collected() {
        let one = reply(r#"{"status": "ok", "warning": "pubsub_endpoint unknown: node tmp3 timed out"}"#);
        assert_eq!(warnings(&one), ["pubsub_endpoint unknown: node tmp3 timed out"]);
        let many = reply(r#"{"status": "ok", "warning": "a", "warnings": ["b", "c"]}"#);
        assert_eq!(warnings(&many), ["a", "b", "c"]);
        assert!(warnings(&reply(r#"{"status": "ok"}"#)).is_empty());
    }
}
