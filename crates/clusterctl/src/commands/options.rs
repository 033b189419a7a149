//! Option queries: `get`, `options`, `globaloptions`, all printed as `key: value` lines with
//! circus's `convert_opt` (`None` as empty, `env` as sorted `K=V,...`, the rest as Python `str`).

use clusterd_protocol::{Reply, Request};
use serde_json::{json, Value};

use super::{console_error, field, is_ok, request, Malformed};
use crate::pystr::py_str;

/// `get <name> <key>...`.
#[derive(clap::Args, Debug)]
pub struct GetArgs {
    /// Watcher name
    pub name: String,
    /// Option names
    #[arg(required = true, value_name = "KEY")]
    pub keys: Vec<String>,
}

/// `options <name>`.
#[derive(clap::Args, Debug)]
pub struct OptionsArgs {
    /// Watcher name
    pub name: String,
}

/// `globaloptions [<option>]`.
#[derive(clap::Args, Debug)]
pub struct GlobalOptionsArgs {
    /// One of endpoint, stats_endpoint, pubsub_endpoint, check_delay, multicast_endpoint
    pub option: Option<String>,
}

/// `{"name", "keys": [...]}`.
pub fn get_request(args: &GetArgs) -> Request {
    request("get", json!({ "name": args.name, "keys": args.keys }))
}

/// `{"name"}`.
pub fn options_request(args: &OptionsArgs) -> Request {
    request("options", json!({ "name": args.name }))
}

/// `{"option"}` or `{}`.
pub fn globaloptions_request(args: &GlobalOptionsArgs) -> Request {
    match &args.option {
        Some(option) => request("globaloptions", json!({ "option": option })),
        None => request("globaloptions", json!({})),
    }
}

/// `get` and `options`: `key: value` lines in reply order.
pub fn render_options(reply: &Reply) -> Result<String, Malformed> {
    if !is_ok(reply) {
        return Ok(console_error(reply));
    }
    option_lines(reply)
}

/// `globaloptions`: like `options`, but an error prints the bare reason (circusctl's quirk).
pub fn render_globaloptions(reply: &Reply) -> Result<String, Malformed> {
    if !is_ok(reply) {
        return Ok(py_str(field(reply, "reason")?));
    }
    option_lines(reply)
}

/// The `options` object as `key: value` lines (empty when absent).
fn option_lines(reply: &Reply) -> Result<String, Malformed> {
    let options = match reply.0.get("options") {
        None => return Ok(String::new()),
        Some(Value::Object(options)) => options,
        Some(_) => return Err(Malformed::field("options")),
    };
    let lines: Vec<String> = options.iter().map(|(key, value)| format!("{key}: {}", convert_opt(key, value))).collect();
    Ok(lines.join("\n"))
}

/// circus's `util.convert_opt`.
fn convert_opt(key: &str, value: &Value) -> String {
    match (key, value) {
        ("env", Value::Object(env)) => {
            let mut pairs: Vec<(&String, &Value)> = env.iter().collect();
            pairs.sort_by(|a, b| a.0.cmp(b.0));
            pairs.iter().map(|(k, v)| format!("{k}={}", py_str(v))).collect::<Vec<_>>().join(",")
        }
        ("env", Value::String(text)) if text.is_empty() => String::new(),
        ("env", Value::Bool(false)) => String::new(),
        (_, Value::Null) => String::new(),
        (_, value) => py_str(value),
    }
}

#[cfg(test)]
mod tests {
    use super::super::reply;
    use super::*;

    #[test]
    fn options_print_like_convert_opt() {
        let text = r#"{"status": "ok", "time": 1.0, "options": {"__name__": "watcher:dummy", "args": "", "close_child_stdin": true, "env": {"B": "2", "A": "x y"}, "executable": null, "graceful_timeout": 30.0, "max_age": 0, "stdout_stream_conf": {}, "stderr_stream_conf": {"class": "FileStream", "max_bytes": 10}, "hooks": ["a", "b"]}, "id": "x"}"#;
        let expected = "__name__: watcher:dummy\nargs: \nclose_child_stdin: True\nenv: A=x y,B=2\nexecutable: \ngraceful_timeout: 30.0\nmax_age: 0\nstdout_stream_conf: {}\nstderr_stream_conf: {'class': 'FileStream', 'max_bytes': 10}\nhooks: ['a', 'b']";
        assert_eq!(render_options(&reply(text)).unwrap(), expected);
        assert_eq!(render_options(&reply(r#"{"status": "ok", "options": {"env": {}}}"#)).unwrap(), "env: ");
        let err = r#"{"status": "error", "reason": "'bogus' option not found", "errno": 3}"#;
        assert_eq!(render_options(&reply(err)).unwrap(), "error: 'bogus' option not found");
    }

    #[test]
    fn globaloptions_prints_floats_and_bare_errors() {
        let text = r#"{"status": "ok", "time": 1795304298.6014233, "options": {"endpoint": "tcp://127.0.0.1:7510", "stats_endpoint": "tcp://127.0.0.1:7512", "pubsub_endpoint": "tcp://127.0.0.1:7511", "check_delay": 5.0, "multicast_endpoint": null}, "id": "x"}"#;
        let expected = "endpoint: tcp://127.0.0.1:7510\nstats_endpoint: tcp://127.0.0.1:7512\npubsub_endpoint: tcp://127.0.0.1:7511\ncheck_delay: 5.0\nmulticast_endpoint: ";
        assert_eq!(render_globaloptions(&reply(text)).unwrap(), expected);
        let err = r#"{"status": "error", "reason": "'bogus' not an existing option", "errno": 3}"#;
        assert_eq!(render_globaloptions(&reply(err)).unwrap(), "'bogus' not an existing option");
        assert!(render_globaloptions(&reply(r#"{"status": "error"}"#)).is_err());
    }
}
