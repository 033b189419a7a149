//! Read-only queries: `list`, `status`, `numprocesses`, `numwatchers`, `listsockets`.

use clusterd_protocol::{Reply, Request};
use serde_json::{json, Value};

use super::{console_error, is_ok, request, Malformed};
use crate::pystr::{py_str, py_str_opt};

/// `list [<name>]`, `status [<name>]`, `numprocesses [<name>]`.
#[derive(clap::Args, Debug)]
pub struct NameArgs {
    /// Watcher name (all watchers when omitted)
    pub name: Option<String>,
}

/// `{"name": name}` when a name is given, else `{}`.
pub fn named_request(command: &str, args: &NameArgs) -> Request {
    match &args.name {
        Some(name) => request(command, json!({ "name": name })),
        None => request(command, json!({})),
    }
}

/// `list`: pids or watchers joined with `,`.
pub fn render_list(reply: &Reply) -> Result<String, Malformed> {
    let joined = |items: &Value| match items {
        Value::Array(items) => Ok(items.iter().map(py_str).collect::<Vec<_>>().join(",")),
        _ => Err(Malformed::field("pids")),
    };
    if let Some(pids) = reply.0.get("pids") {
        return joined(pids);
    }
    if let Some(watchers) = reply.0.get("watchers") {
        return joined(watchers);
    }
    if reply.0.contains_key("reason") {
        return Ok(console_error(reply));
    }
    Ok("error: Response doesn't contain 'pids' nor 'watchers'.".into())
}

/// `status`: sorted `watcher: state` lines, or the single state; an error reply prints its
/// reason (circusctl prints a bare `error`, which hides why).
pub fn render_status(reply: &Reply) -> Result<String, Malformed> {
    if let Some(statuses) = reply.0.get("statuses") {
        let Value::Object(statuses) = statuses else {
            return Err(Malformed::field("statuses"));
        };
        let mut names: Vec<&String> = statuses.keys().collect();
        names.sort();
        let lines: Vec<String> = names.iter().map(|name| format!("{name}: {}", py_str(&statuses[*name]))).collect();
        return Ok(lines.join("\n"));
    }
    match reply.0.get("status") {
        Some(status) if !reply.is_error() => Ok(py_str(status)),
        _ => Ok(console_error(reply)),
    }
}

/// `numprocesses`: the number.
pub fn render_numprocesses(reply: &Reply) -> Result<String, Malformed> {
    Ok(if is_ok(reply) { py_str_opt(reply.0.get("numprocesses")) } else { console_error(reply) })
}

/// `numwatchers`: the number.
pub fn render_numwatchers(reply: &Reply) -> Result<String, Malformed> {
    Ok(if is_ok(reply) { py_str_opt(reply.0.get("numwatchers")) } else { console_error(reply) })
}

/// `listsockets`: `fd:socket 'name' at host:port` (or `at path`) lines.
pub fn render_listsockets(reply: &Reply) -> Result<String, Malformed> {
    let Some(sockets) = reply.0.get("sockets") else {
        return Ok(console_error(reply));
    };
    let Value::Array(sockets) = sockets else {
        return Err(Malformed::field("sockets"));
    };
    let mut lines = Vec::with_capacity(sockets.len());
    for socket in sockets {
        let Value::Object(socket) = socket else {
            return Err(Malformed::field("sockets"));
        };
        let get = |key: &str| socket.get(key).ok_or_else(|| Malformed::field(key));
        let head = format!("{}:socket '{}' ", percent_d(get("fd")?, "fd")?, py_str(get("name")?));
        let tail = match socket.get("path") {
            Some(path) => format!("at {}", py_str(path)),
            None => format!("at {}:{}", py_str(get("host")?), percent_d(get("port")?, "port")?),
        };
        lines.push(head + &tail);
    }
    Ok(lines.join("\n"))
}

/// Python's `"%d" % value`: integers, floats truncated, booleans as 1/0; anything else is a
/// `TypeError` in circusctl.
fn percent_d(value: &Value, key: &str) -> Result<String, Malformed> {
    match value {
        Value::Bool(flag) => Ok(u8::from(*flag).to_string()),
        Value::Number(number) if number.is_f64() => {
            let float = number.as_f64().unwrap_or_default();
            if float.is_finite() {
                Ok(format!("{}", float.trunc()))
            } else {
                Err(Malformed::field(key))
            }
        }
        Value::Number(number) => Ok(number.to_string()),
        _ => Err(Malformed::field(key)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::reply;
    use super::*;

    #[test]
    fn list_prints_watchers_or_pids() {
        let watchers = r#"{"status": "ok", "time": 1.5, "watchers": ["circusd-stats", "dummy", "my-app"], "id": "x"}"#;
        assert_eq!(render_list(&reply(watchers)).unwrap(), "circusd-stats,dummy,my-app");
        let pids = r#"{"status": "ok", "time": 1.5, "pids": [8498, 8500], "id": "x"}"#;
        assert_eq!(render_list(&reply(pids)).unwrap(), "8498,8500");
        assert_eq!(render_list(&reply(r#"{"status": "ok", "pids": []}"#)).unwrap(), "");
        let err = r#"{"status": "error", "reason": "program nope not found", "tb": null, "errno": 3}"#;
        assert_eq!(render_list(&reply(err)).unwrap(), "error: program nope not found");
        assert_eq!(
            render_list(&reply(r#"{"status": "ok"}"#)).unwrap(),
            "error: Response doesn't contain 'pids' nor 'watchers'."
        );
    }

    #[test]
    fn status_prints_sorted_states_or_the_single_state() {
        let all = r#"{"status": "ok", "statuses": {"web": "active", "dummy": "stopped", "Other": "active"}}"#;
        assert_eq!(render_status(&reply(all)).unwrap(), "Other: active\ndummy: stopped\nweb: active");
        assert_eq!(render_status(&reply(r#"{"status": "active", "time": 1.0}"#)).unwrap(), "active");
        let err = r#"{"status": "error", "reason": "program nope not found", "errno": 3}"#;
        // circusctl prints a bare `error` here; issue 12 asks for the reason.
        assert_eq!(render_status(&reply(err)).unwrap(), "error: program nope not found");
    }

    #[test]
    fn counts_print_the_number_or_none() {
        assert_eq!(render_numwatchers(&reply(r#"{"status": "ok", "numwatchers": 4}"#)).unwrap(), "4");
        assert_eq!(render_numwatchers(&reply(r#"{"status": "ok"}"#)).unwrap(), "None");
        let named = r#"{"status": "ok", "numprocesses": 2, "watcher_name": "dummy"}"#;
        assert_eq!(render_numprocesses(&reply(named)).unwrap(), "2");
        let err = r#"{"status": "error", "reason": "program x not found"}"#;
        assert_eq!(render_numprocesses(&reply(err)).unwrap(), "error: program x not found");
    }

    #[test]
    fn listsockets_prints_one_line_per_socket() {
        let text = r#"{"status": "ok", "sockets": [{"fd": 7, "name": "web", "backlog": 2048, "host": "127.0.0.1", "port": 7515}, {"fd": 8.0, "name": "unix", "backlog": 5, "path": "/tmp/s"}]}"#;
        assert_eq!(
            render_listsockets(&reply(text)).unwrap(),
            "7:socket 'web' at 127.0.0.1:7515\n8:socket 'unix' at /tmp/s"
        );
        assert_eq!(render_listsockets(&reply(r#"{"status": "ok", "sockets": []}"#)).unwrap(), "");
        assert!(render_listsockets(&reply(r#"{"status": "ok", "sockets": [{"fd": "7"}]}"#)).is_err());
        let err = r#"{"status": "error", "reason": "boom"}"#;
        assert_eq!(render_listsockets(&reply(err)).unwrap(), "error: boom");
    }
}
