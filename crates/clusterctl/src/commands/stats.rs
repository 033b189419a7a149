//! Process statistics: `stats` and `dstats`, printed with circusctl's `_INFOLINE`
//! (`pid  cmdline username nice mem_info1 mem_info2 cpu mem ctime`).

use clusterd_protocol::{Reply, Request};
use serde_json::{json, Map, Value};

use super::procs::parse_int;
use super::{console_error, field, is_ok, request, Malformed};
use crate::pystr::{py_str, py_str_opt};

/// `stats [<name> [<pid>]] [--extended]`.
#[derive(clap::Args, Debug)]
pub struct StatsArgs {
    /// Watcher name (all watchers when omitted)
    pub name: Option<String>,
    /// Process id (only with a watcher name)
    #[arg(value_parser = parse_int)]
    pub process: Option<i64>,
    /// Include info from extended_stats hook
    #[arg(long)]
    pub extended: bool,
}

/// `{"name"?, "process"?, "extended"}`: `extended` is always sent.
pub fn stats_request(args: &StatsArgs) -> Request {
    let mut props = Map::new();
    if let Some(name) = &args.name {
        props.insert("name".into(), json!(name));
    }
    if let Some(process) = args.process {
        props.insert("process".into(), json!(process));
    }
    props.insert("extended".into(), json!(args.extended));
    request("stats", Value::Object(props))
}

/// `stats`: `name:` then `pid: line` per process; or every watcher that way; or `pid: line` and an
/// empty line for one process.
pub fn render_stats(reply: &Reply) -> Result<String, Malformed> {
    if !is_ok(reply) {
        return Ok(console_error(reply));
    }
    let mut lines = Vec::new();
    if reply.0.contains_key("name") {
        lines.push(format!("{}:", py_str_opt(reply.0.get("name"))));
        process_lines(&mut lines, reply.0.get("info"), "info")?;
    } else if let Some(infos) = reply.0.get("infos") {
        let Value::Object(infos) = infos else {
            return Err(Malformed::field("infos"));
        };
        for (watcher, info) in infos {
            lines.push(format!("{watcher}:"));
            process_lines(&mut lines, Some(info), "infos")?;
        }
    } else {
        let process = py_str(field(reply, "process")?);
        let info = to_str(field(reply, "info")?)?;
        return Ok(format!("{process}: {info}\n"));
    }
    Ok(lines.join("\n"))
}

/// Appends `pid: line` for each entry of a `{pid: info}` map (`None`/`{}` give nothing).
fn process_lines(lines: &mut Vec<String>, infos: Option<&Value>, key: &str) -> Result<(), Malformed> {
    match infos {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Object(infos)) => {
            for (pid, info) in infos {
                lines.push(format!("{pid}: {}", to_str(info)?));
            }
            Ok(())
        }
        Some(_) => Err(Malformed::field(key)),
    }
}

/// `Stats._to_str`: the info line then `   `-indented child lines; non-objects as they are.
fn to_str(info: &Value) -> Result<String, Malformed> {
    let Value::Object(info) = info else {
        return Ok(py_str(info));
    };
    let mut lines = vec![info_line(info)?];
    for child in children(info)? {
        lines.push(format!("   {}", info_line(child)?));
    }
    Ok(lines.join("\n"))
}

/// `dstats`: `Main Process:` and the daemon's line, then its children if any.
pub fn render_dstats(reply: &Reply) -> Result<String, Malformed> {
    if !is_ok(reply) {
        return Ok(console_error(reply));
    }
    let Value::Object(info) = field(reply, "info")? else {
        return Err(Malformed::field("info"));
    };
    let mut lines = vec!["Main Process:".to_string(), format!("    {}", info_line(info)?)];
    let children = children(info)?;
    if !children.is_empty() {
        lines.push("Children:".into());
        for child in children {
            lines.push(format!("    {}", info_line(child)?));
        }
    }
    Ok(lines.join("\n"))
}

/// The `children` of a process info, each an info object.
fn children(info: &Map<String, Value>) -> Result<Vec<&Map<String, Value>>, Malformed> {
    match info.get("children") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(children)) => {
            children.iter().map(|child| child.as_object().ok_or_else(|| Malformed::field("children"))).collect()
        }
        Some(_) => Err(Malformed::field("children")),
    }
}

/// `_INFOLINE % info`.
fn info_line(info: &Map<String, Value>) -> Result<String, Malformed> {
    let get = |key: &str| info.get(key).map(py_str).ok_or_else(|| Malformed::field(key));
    Ok(format!(
        "{}  {} {} {} {} {} {} {} {}",
        get("pid")?,
        get("cmdline")?,
        get("username")?,
        get("nice")?,
        get("mem_info1")?,
        get("mem_info2")?,
        get("cpu")?,
        get("mem")?,
        get("ctime")?
    ))
}

#[cfg(test)]
mod tests {
    use super::super::reply;
    use super::*;

    const INFO: &str = r#"{"mem_info1": "8.57M", "mem_info2": "12.21M", "cpu": 0.0, "mem": 0.036, "ctime": "0:00.10", "pid": 8498, "username": "root", "nice": 0, "create_time": 1795304253.7, "age": 46.0046112537384, "cmdline": "python", "children": [], "started": 1795304254.2363572, "wid": 1}"#;

    #[test]
    fn stats_of_one_watcher() {
        let text = format!(
            r#"{{"status": "ok", "time": 1.0, "name": "dummy", "info": {{"8498": {INFO}, "8500": "No such process"}}, "id": "x"}}"#
        );
        let expected = "dummy:\n8498: 8498  python root 0 8.57M 12.21M 0.0 0.036 0:00.10\n8500: No such process";
        assert_eq!(render_stats(&reply(&text)).unwrap(), expected);
        let stopped = r#"{"status": "ok", "time": 1.0, "name": "addw", "info": {}, "id": "x"}"#;
        assert_eq!(render_stats(&reply(stopped)).unwrap(), "addw:");
    }

    #[test]
    fn stats_of_all_watchers_and_of_one_process() {
        let text = format!(r#"{{"status": "ok", "infos": {{"web": {{"7": {INFO}}}, "empty": null, "z": {{}}}}}}"#);
        let expected = "web:\n7: 8498  python root 0 8.57M 12.21M 0.0 0.036 0:00.10\nempty:\nz:";
        assert_eq!(render_stats(&reply(&text)).unwrap(), expected);
        let child = r#"{"pid": 9, "cmdline": "sh", "username": "u", "nice": "N/A", "mem_info1": "1M", "mem_info2": "2M", "cpu": 1.5, "mem": 0.1, "ctime": "0:00.01"}"#;
        let one = INFO.replace(r#""children": []"#, &format!(r#""children": [{child}]"#));
        let text = format!(r#"{{"status": "ok", "process": 8498, "info": {one}}}"#);
        let expected =
            "8498: 8498  python root 0 8.57M 12.21M 0.0 0.036 0:00.10\n   9  sh u N/A 1M 2M 1.5 0.1 0:00.01\n";
        assert_eq!(render_stats(&reply(&text)).unwrap(), expected);
    }

    #[test]
    fn stats_errors_and_malformed_replies() {
        let err = r#"{"status": "error", "reason": "process 1 not found in 'dummy'", "errno": 3}"#;
        assert_eq!(render_stats(&reply(err)).unwrap(), "error: process 1 not found in 'dummy'");
        assert!(render_stats(&reply(r#"{"status": "ok"}"#)).is_err());
        assert!(render_stats(&reply(r#"{"status": "ok", "name": "x", "info": {"1": {"pid": 1}}}"#)).is_err());
    }

    #[test]
    fn dstats_prints_the_main_process() {
        let text = r#"{"status": "ok", "time": 1.0, "info": {"mem_info1": "25.42M", "mem_info2": "118.50M", "cpu": 0.0, "mem": 0.105, "ctime": "0:00.90", "pid": 8495, "username": "root", "nice": 0, "create_time": 1795304253.68, "age": 46.14630389213562, "cmdline": "python3", "children": []}, "id": "x"}"#;
        assert_eq!(
            render_dstats(&reply(text)).unwrap(),
            "Main Process:\n    8495  python3 root 0 25.42M 118.50M 0.0 0.105 0:00.90"
        );
        assert!(render_dstats(&reply(r#"{"status": "ok"}"#)).is_err());
        assert_eq!(render_dstats(&reply(r#"{"status": "error", "reason": "x"}"#)).unwrap(), "error: x");
    }
}
