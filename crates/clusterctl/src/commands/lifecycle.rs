//! Arbiter and watcher life cycle: `start`, `stop`, `restart`, `reload`, `reloadconfig`, `quit`.
//! All of them print circusctl's default `ok` / `error: <reason>`, except a master's
//! `reloadconfig`, which says what the reload did.

use clusterd_protocol::{Reply, Request};
use serde_json::{json, Map, Value};

use super::{default_console, is_ok, request, Malformed};
use crate::pystr::py_str;

/// The lists of a master's `reloadconfig` reply, in the order they are printed.
const RELOAD_REPORT: [&str; 4] = ["added", "changed", "removed", "needs_restart"];

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

/// `reloadconfig`: a master's report as `added: a, b` ... `needs_restart: -` lines; `ok` (or the
/// error) for a circusd, whose reply has no report.
pub fn render_reloadconfig(reply: &Reply) -> Result<String, Malformed> {
    if !is_ok(reply) || !RELOAD_REPORT.iter().any(|key| reply.0.contains_key(*key)) {
        return default_console(reply);
    }
    let mut lines = Vec::with_capacity(RELOAD_REPORT.len());
    for key in RELOAD_REPORT {
        let items = match reply.0.get(key) {
            None => Vec::new(),
            Some(Value::Array(items)) => items.iter().map(py_str).collect(),
            Some(_) => return Err(Malformed::field(key)),
        };
        let shown = if items.is_empty() { "-".to_string() } else { items.join(", ") };
        lines.push(format!("{key}: {shown}"));
    }
    Ok(lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::super::reply;
    use super::*;

    #[test]
    fn reloadconfig_says_what_changed() {
        let report = r#"{"status": "ok", "added": ["third"], "changed": [], "removed": ["a", "b"], "needs_restart": ["endpoint"]}"#;
        assert_eq!(
            render_reloadconfig(&reply(report)).unwrap(),
            "added: third\nchanged: -\nremoved: a, b\nneeds_restart: endpoint"
        );
        assert_eq!(render_reloadconfig(&reply(r#"{"status": "ok", "time": 1.0}"#)).unwrap(), "ok");
        let refused = r#"{"status": "error", "reason": "configuration not reloaded: x", "errno": 3}"#;
        assert_eq!(render_reloadconfig(&reply(refused)).unwrap(), "error: configuration not reloaded: x");
        assert!(render_reloadconfig(&reply(r#"{"status": "ok", "added": "x"}"#)).is_err());
    }
}
