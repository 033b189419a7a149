//! `set <name> <key> <value> [<key> <value>...] [--waiting]`, with circus's client-side
//! `convert_option`: values are typed (ints, floats, booleans, signals, hook maps) before they are
//! sent, and unknown keys are refused before anything is sent.

use clusterd_protocol::Request;
use serde_json::{json, Map, Value};

use super::procs::parse_int;
use super::signum::to_signum;
use super::{request, UsageError};

/// Hooks a watcher accepts (`hooks` and `hooks.<name>`).
const HOOKS: &[&str] = &[
    "before_start",
    "after_start",
    "before_stop",
    "after_stop",
    "before_spawn",
    "after_spawn",
    "before_signal",
    "after_signal",
    "before_reap",
    "after_reap",
    "extended_stats",
];

/// `set` arguments.
#[derive(clap::Args, Debug)]
pub struct SetArgs {
    /// Watcher name
    pub name: String,
    /// Option names and values, in pairs
    #[arg(required = true, value_name = "KEY VALUE")]
    pub pairs: Vec<String>,
    /// Waiting the real end of the process
    #[arg(long)]
    pub waiting: bool,
}

/// `{"name", "waiting": true?, "options": {...}}` (`waiting` only when set, as circusctl).
///
/// # Errors
/// An odd number of key/value arguments, an unknown key or a value of the wrong type.
pub fn set_request(args: &SetArgs) -> Result<Request, UsageError> {
    if args.pairs.len() < 2 {
        return Err(UsageError::new("Invalid number of arguments"));
    }
    if !args.pairs.len().is_multiple_of(2) {
        return Err(UsageError::new("List of key/values is invalid"));
    }
    let mut options = Map::new();
    for pair in args.pairs.chunks(2) {
        let key = pair[0].to_lowercase();
        let value = convert_option(&key, &pair[1]).map_err(UsageError)?;
        options.insert(key, value);
    }
    let mut props = Map::new();
    props.insert("name".into(), json!(args.name));
    if args.waiting {
        props.insert("waiting".into(), json!(true));
    }
    props.insert("options".into(), Value::Object(options));
    Ok(request("set", Value::Object(props)))
}

/// circus's `commands.util.convert_option`.
///
/// # Errors
/// The message to print, e.g. `unknown key 'bogus'`.
pub fn convert_option(key: &str, value: &str) -> Result<Value, String> {
    match key {
        "numprocesses" | "max_retry" | "max_age" | "max_age_variance" => Ok(json!(parse_int(value)?)),
        "warmup_delay" | "retry_in" | "graceful_timeout" => Ok(json!(parse_float(value)?)),
        "working_dir" | "uid" | "gid" | "cmd" | "args" => Ok(json!(value)),
        "send_hup" | "stop_children" | "shell" | "copy_env" | "respawn" | "singleton" | "close_child_stdin"
        | "close_child_stdout" | "close_child_stderr" => Ok(json!(to_bool(value)?)),
        "stop_signal" => Ok(json!(to_signum(value)?)),
        "env" => parse_env(value),
        "hooks" => parse_hooks(value),
        _ => convert_prefixed(key, value),
    }
}

/// Keys known by their prefix: `stdout_stream.*`, `stderr_stream.*`, `hooks.*`, `rlimit_*`.
fn convert_prefixed(key: &str, value: &str) -> Result<Value, String> {
    if let Some(subkey) = key.strip_prefix("stderr_stream.").or_else(|| key.strip_prefix("stdout_stream.")) {
        return match subkey {
            "max_bytes" | "backup_count" => Ok(json!(parse_int(value)?)),
            _ => Ok(json!(value)),
        };
    }
    if let Some(hook) = key.strip_prefix("hooks.") {
        return if HOOKS.contains(&hook) { Ok(json!(value)) } else { Err(hook.to_string()) };
    }
    if key.starts_with("rlimit_") {
        return Ok(json!(parse_int(value)?));
    }
    Err(format!("unknown key '{key}'"))
}

/// `hooks before_start:mod.fn,after_stop:mod.fn` → `{"before_start": "mod.fn", ...}`.
fn parse_hooks(value: &str) -> Result<Value, String> {
    let mut hooks = Map::new();
    for hook in value.split(',').filter(|hook| !hook.is_empty()) {
        let parts: Vec<&str> = hook.split(':').collect();
        let [name, target] = parts[..] else {
            return Err(format!("invalid hook '{hook}': expected <hook>:<module.function>"));
        };
        if !HOOKS.contains(&name) {
            return Err(name.to_string());
        }
        hooks.insert(name.into(), json!(target));
    }
    Ok(Value::Object(hooks))
}

/// `env K=V[,K=V...]` → `{"K": "V"}` (circusctl crashes on `env`; this is the ini syntax).
fn parse_env(value: &str) -> Result<Value, String> {
    let mut env = Map::new();
    for item in value.split(',').filter(|item| !item.trim().is_empty()) {
        let (key, val) =
            item.split_once('=').ok_or_else(|| format!("invalid env entry '{item}': expected KEY=VALUE"))?;
        env.insert(key.trim().into(), json!(val.trim()));
    }
    Ok(Value::Object(env))
}

/// Python's `float(text)`, finite values only (JSON has no infinities).
fn parse_float(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(value),
        _ => Err(format!("could not convert string to float: '{text}'")),
    }
}

/// circus's `util.to_bool`.
fn to_bool(text: &str) -> Result<bool, String> {
    clusterd_protocol::circus_bool(text).ok_or_else(|| format!("'{text}' is not a boolean"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_converted_like_circusctl() {
        assert_eq!(convert_option("numprocesses", "3"), Ok(json!(3)));
        assert_eq!(convert_option("graceful_timeout", "2"), Ok(json!(2.0)));
        assert_eq!(convert_option("send_hup", "Yes"), Ok(json!(true)));
        assert_eq!(convert_option("stop_signal", "HUP"), Ok(json!(1)));
        assert_eq!(convert_option("uid", "1000"), Ok(json!("1000")));
        assert_eq!(convert_option("stdout_stream.max_bytes", "10"), Ok(json!(10)));
        assert_eq!(convert_option("stdout_stream.class", "FileStream"), Ok(json!("FileStream")));
        assert_eq!(convert_option("rlimit_nofile", "100"), Ok(json!(100)));
        assert_eq!(convert_option("hooks.before_start", "x.y"), Ok(json!("x.y")));
        assert_eq!(
            convert_option("hooks", "before_start:a.b,after_stop:c.d"),
            Ok(json!({"before_start": "a.b", "after_stop": "c.d"}))
        );
        assert_eq!(convert_option("env", "A=1, B = x"), Ok(json!({"A": "1", "B": "x"})));
    }

    #[test]
    fn bad_keys_and_values_are_refused() {
        assert_eq!(convert_option("bogus", "3"), Err("unknown key 'bogus'".into()));
        assert_eq!(convert_option("hooks.nope", "x"), Err("nope".into()));
        assert!(convert_option("numprocesses", "x").is_err());
        assert!(convert_option("shell", "maybe").is_err());
        assert!(convert_option("warmup_delay", "inf").is_err());
        assert!(convert_option("stop_signal", "NOPE").is_err());
    }
}
