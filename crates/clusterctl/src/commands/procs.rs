//! Process-level commands: `incr`, `decr`, `kill`, `signal`.

use clusterd_protocol::{Reply, Request};
use serde_json::{json, Map, Value};

use super::{console_error, is_ok, request, Malformed, UsageError};
use crate::pystr::py_str;

/// `incr|decr <name> [<nb>] [--waiting]`.
#[derive(clap::Args, Debug)]
pub struct IncrArgs {
    /// Watcher name
    pub name: String,
    /// Number of processes to add or remove (default 1)
    #[arg(value_parser = parse_int)]
    pub nb: Option<i64>,
    /// Waiting the real end of the process
    #[arg(long)]
    pub waiting: bool,
}

/// `kill <name> [<pid>] [--signum SIG] [--graceful_timeout SECONDS]`.
#[derive(clap::Args, Debug)]
pub struct KillArgs {
    /// Watcher name
    pub name: String,
    /// Only this process (sent as typed, as circusctl does)
    pub pid: Option<String>,
    /// Accepted for compatibility; circusctl does not send it
    #[arg(long)]
    pub waiting: bool,
    /// overrides the watcher's stop_signal (number or name)
    #[arg(long, value_name = "SIGNUM")]
    pub signum: Option<String>,
    /// overrides the watcher's graceful_timeout
    #[arg(long = "graceful_timeout", value_name = "SECONDS")]
    pub graceful_timeout: Option<String>,
}

/// `signal <name> [<pid>] <signum> [--children] [--recursive]`.
#[derive(clap::Args, Debug)]
pub struct SignalArgs {
    /// Watcher name
    pub name: String,
    /// An optional process id, then the signal (number or name, sent as typed)
    #[arg(value_name = "PID|SIGNUM")]
    pub rest: Vec<String>,
    /// Only signal children of the process
    #[arg(long)]
    pub children: bool,
    /// Signal parent and children
    #[arg(long)]
    pub recursive: bool,
}

/// `{"name", "nb"?, "waiting"}` (`nb` only when given).
pub fn incr_request(command: &str, args: &IncrArgs) -> Request {
    let mut props = Map::new();
    props.insert("name".into(), json!(args.name));
    if let Some(nb) = args.nb {
        props.insert("nb".into(), json!(nb));
    }
    props.insert("waiting".into(), json!(args.waiting));
    request(command, Value::Object(props))
}

/// `{"name", "pid"?, "signum"?, "graceful_timeout"?}`, values as the strings typed.
pub fn kill_request(args: &KillArgs) -> Request {
    let mut props = Map::new();
    props.insert("name".into(), json!(args.name));
    let optional = [("pid", &args.pid), ("signum", &args.signum), ("graceful_timeout", &args.graceful_timeout)];
    for (key, value) in optional {
        if let Some(value) = value {
            props.insert(key.into(), json!(value));
        }
    }
    request("kill", Value::Object(props))
}

/// `{"name", "children", "recursive", "signum", "pid"?}`: `signum` as typed, `pid` as an int.
///
/// # Errors
/// A pid that is not an integer.
pub fn signal_request(args: &SignalArgs) -> Result<Request, UsageError> {
    let (pid, signum) = match args.rest.as_slice() {
        [signum] => (None, signum),
        [pid, signum] => (Some(parse_int(pid).map_err(UsageError)?), signum),
        _ => return Err(UsageError::new("Invalid number of arguments: expected <NAME> [PID] <SIGNUM>")),
    };
    let mut props = Map::new();
    props.insert("name".into(), json!(args.name));
    props.insert("children".into(), json!(args.children));
    props.insert("recursive".into(), json!(args.recursive));
    props.insert("signum".into(), json!(signum));
    if let Some(pid) = pid {
        props.insert("pid".into(), json!(pid));
    }
    Ok(request("signal", Value::Object(props)))
}

/// `incr`/`decr`: the new number of processes (`ok` when not waiting), or the singleton notice.
pub fn render_incr(reply: &Reply) -> Result<String, Malformed> {
    if !is_ok(reply) {
        return Ok(console_error(reply));
    }
    if reply.0.contains_key("singleton") {
        return Ok("This watcher is a Singleton - not changing the number of processes".into());
    }
    Ok(reply.0.get("numprocesses").map_or_else(|| "ok".into(), py_str))
}

/// Python's `int(text)` for the usual cases: optional sign, decimal digits, surrounding spaces.
pub fn parse_int(text: &str) -> Result<i64, String> {
    text.trim().parse().map_err(|_| format!("invalid literal for int() with base 10: '{text}'"))
}

#[cfg(test)]
mod tests {
    use super::super::reply;
    use super::*;

    #[test]
    fn incr_prints_the_new_count_or_ok() {
        assert_eq!(render_incr(&reply(r#"{"status": "ok", "time": 1.0, "id": "x"}"#)).unwrap(), "ok");
        assert_eq!(render_incr(&reply(r#"{"status": "ok", "numprocesses": 5}"#)).unwrap(), "5");
        let singleton = r#"{"status": "ok", "numprocesses": 1, "singleton": true}"#;
        assert_eq!(
            render_incr(&reply(singleton)).unwrap(),
            "This watcher is a Singleton - not changing the number of processes"
        );
        let conflict =
            r#"{"status": "error", "reason": "arbiter is already running watcher_stop command", "errno": 5}"#;
        assert_eq!(render_incr(&reply(conflict)).unwrap(), "error: arbiter is already running watcher_stop command");
    }

    #[test]
    fn ints_parse_like_python() {
        assert_eq!(parse_int(" +3 "), Ok(3));
        assert_eq!(parse_int("-1"), Ok(-1));
        assert!(parse_int("x").unwrap_err().contains("'x'"));
    }
}
