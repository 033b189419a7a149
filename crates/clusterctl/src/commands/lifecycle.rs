//! Arbiter and watcher life cycle: `start`, `stop`, `restart`, `reload`, `reloadconfig`, `quit`.
//! All of them print circusctl's default `ok` / `error: <reason>`.

use clusterd_protocol::Request;
use serde_json::{json, Map, Value};

use super::request;

/// `quit [--waiting]`, `reloadconfig [--waiting]`.
#[derive(clap::Args, Debug)]
pub struct WaitingArgs {
    /// Waiting the real end of the process
    #[arg(long)]
    pub waiting: bool,
}

/// `start|stop|restart [<name>] [--waiting] [--match simple|glob|regex]`.
#[derive(clap::Args, Debug)]
pub struct MatchArgs {
    /// Watcher name or pattern (the whole arbiter when omitted)
    pub name: Option<String>,
    /// Waiting the real end of the process
    #[arg(long)]
    pub waiting: bool,
    /// Watcher name matching method (simple, glob or regex)
    #[arg(long = "match", value_name = "METHOD", default_value = "glob")]
    pub match_method: String,
}

/// `reload [<name>] [--waiting] [--sequential] [--terminate]`.
#[derive(clap::Args, Debug)]
pub struct ReloadArgs {
    /// Watcher name (the whole arbiter when omitted)
    pub name: Option<String>,
    /// Waiting the real end of the process
    #[arg(long)]
    pub waiting: bool,
    /// sequential reload
    #[arg(long)]
    pub sequential: bool,
    /// stop immediately
    #[arg(long)]
    pub terminate: bool,
}

/// `{"waiting": bool}`, always sent.
pub fn waiting_request(command: &str, args: &WaitingArgs) -> Request {
    request(command, json!({ "waiting": args.waiting }))
}

/// `{"name"?, "waiting", "match"}`: circusctl always sends `waiting` and `match`.
pub fn match_request(command: &str, args: &MatchArgs) -> Request {
    let mut props = Map::new();
    if let Some(name) = &args.name {
        props.insert("name".into(), json!(name));
    }
    props.insert("waiting".into(), json!(args.waiting));
    props.insert("match".into(), json!(args.match_method));
    request(command, Value::Object(props))
}

/// `{"name"?, "graceful", "waiting", "sequential"}`: all three flags are always sent.
pub fn reload_request(args: &ReloadArgs) -> Request {
    let mut props = Map::new();
    if let Some(name) = &args.name {
        props.insert("name".into(), json!(name));
    }
    props.insert("graceful".into(), json!(!args.terminate));
    props.insert("waiting".into(), json!(args.waiting));
    props.insert("sequential".into(), json!(args.sequential));
    request("reload", Value::Object(props))
}
