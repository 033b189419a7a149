//! `run NAME [--cwd DIR] [--env K=V]... [--job-timeout DURATION] -- CMD ARGS...`: the command
//! line and the requests of a one-shot job. The job itself is run by [`crate::job`].
//!
//! On every node the job is a temporary watcher `run-NAME-xxxx` (`xxxx` random) added with
//! `start: true`, one process, no respawn, and removed at the end.

use std::time::Duration;

use clusterd_protocol::Request;
use serde_json::{json, Map, Value};

use super::request;
use clusterd_protocol::names::validate_word;

/// `run` arguments.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "\
Runs CMD ARGS... once on every node of --node (default: all) and waits until it has exited \
everywhere. On each node the job is a temporary watcher run-NAME-xxxx (one process, no respawn, \
the node's circusd environment plus --env, stdout and stderr in files \
run-NAME-xxxx.stdout.log and .stderr.log in circusd's directory), followed on the master's event stream (its globaloptions' pubsub_endpoint) for the exit code, \
and removed at the end.

--timeout stays the deadline of each request to the master; --job-timeout bounds the job \
itself (default: none): nodes still running then are stopped and reported as timed out. \
Ctrl-C (or SIGTERM) stops the job on every node before exiting (status 130).

Output: `== run-NAME-xxxx on <nodes> (<count>): <command>`, then, when all is over, each \
node's output (stdout and stderr) gathered like `clush -b`: every distinct output once, under \
the nodes that printed it, between rule lines (read and then deleted by each node's log agent, \
`clusterctl join` with logs_endpoint; a node without one is named on stderr and keeps its \
files); then the nodes grouped by outcome, one line per group, successes first, durations from spawn to reap on the \
node (circusd reaps exited processes every check_delay, 5 s by default, so a short job shows anything up to about 5 s):
  exit 0 (2): first,third [1.21s-4.30s]
  exit 1 (1): second [2.05s]
  exit ? (1): fourth [1.20s]          exited, exit code unknown (its reap event was missed)
  timed out (1): fifth [60.00s]
  failed to start (1): sixth: <reason>
  interrupted (1): seventh [3.10s]
  lost (1): eighth: <reason>           the node stopped answering, or the watcher vanished
With --json, one object per node: {\"node\", \"outcome\" (exited, timed_out, failed_to_start, \
interrupted, lost), \"exit_code\" (null when unknown), \"duration\" (seconds or null), \"reason\", \
\"output\" (its lines joined by newlines, null when not gathered)}.
A node whose add timed out may still add the watcher later; if removing it fails there too, a \
warning on stderr gives the `rm` command to run.
Exit status: 0 when every node's job exited 0, 3 otherwise, 130 when interrupted.

CMD ARGS... are passed literally: nothing is expanded, neither by a shell (use sh -c for that) \
nor by circusd. circusd expands $(circus.X) and ((circus.X)) (e.g. $(circus.env.PATH), \
((circus.wid))) in a watcher's command and arguments; when CMD ARGS... hold either form, \
clusterctl passes them in the environment (CLUSTERCTL_RUN_0, CLUSTERCTL_RUN_1, ...) and runs \
/bin/sh -c 'exec \"$CLUSTERCTL_RUN_0\" \"$CLUSTERCTL_RUN_1\" ...' instead, which circusd leaves \
alone. --env values are passed as they are (circusd does not expand them).

Example:
  clusterctl --node all run reset -- sh -c 'rm -rf /tmp/exp-data'")]
pub struct RunArgs {
    /// Job name, part of the temporary watcher's name (letters, digits, '-' and '_')
    #[arg(value_parser = parse_name)]
    pub name: String,
    /// Working directory of the job on each node
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<String>,
    /// Set an environment variable (repeatable)
    #[arg(long = "env", value_name = "K=V", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
    /// Stop the job on nodes where it still runs after this long (90, 90s, 5m, 1h30m)
    #[arg(long = "job-timeout", value_name = "DURATION", value_parser = parse_duration)]
    pub job_timeout: Option<Duration>,
    /// The program and its arguments, after `--`
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// A job name: the node-name alphabet, so that the watcher name is safe in topics.
fn parse_name(text: &str) -> Result<String, String> {
    validate_word(text).map_err(|_| format!("'{text}' is not a job name: use letters, digits, '-' and '_'"))?;
    Ok(text.to_string())
}

/// `K=V`, `K` non-empty.
pub fn parse_env(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!("'{text}' is not KEY=VALUE")),
    }
}

/// Seconds (`90`, `1.5`) or a humantime duration (`90s`, `5m`, `1h30m`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    if let Ok(duration) = crate::duration::parse_timeout(text) {
        return Ok(duration);
    }
    humantime::parse_duration(text.trim()).map_err(|_| format!("'{text}' is not a duration (e.g. 90, 90s, 5m)"))
}

/// The temporary watcher's name: `run-NAME-` and four random hex digits.
pub fn watcher_name(name: &str) -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("run-{name}-{}", &random[..4])
}

/// Prefix of the environment variables that carry a command circusd would expand.
pub const LITERAL_ENV_PREFIX: &str = "CLUSTERCTL_RUN_";

/// True when circusd would replace something in `text`: it expands `$(circus.X)` and
/// `((circus.X))`, in any case, in a watcher's `cmd` and each of its `args`
/// (`circus.util.replace_gnu_args`). Checked loosely: a false alarm only costs the trampoline.
fn circusd_expands(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.contains("$(circus.") || lower.contains("((circus.")
}

/// The `cmd`, `args` and extra environment that make circusd run `command` literally: as is
/// when circusd would expand nothing in it; otherwise each part in an environment variable
/// (`CLUSTERCTL_RUN_<i>`, values circusd never expands) and `/bin/sh -c 'exec "$CLUSTERCTL_RUN_0"
/// ...'` as the command, whose text holds nothing circusd expands either.
fn literal_command(command: &[String]) -> (String, Vec<String>, Vec<(String, String)>) {
    if !command.iter().any(|part| circusd_expands(part)) {
        let (program, rest) = command.split_first().map_or(("", &[][..]), |(p, rest)| (p.as_str(), rest));
        return (sh_quote(program), rest.to_vec(), Vec::new());
    }
    let env: Vec<(String, String)> =
        command.iter().enumerate().map(|(i, part)| (format!("{LITERAL_ENV_PREFIX}{i}"), part.clone())).collect();
    let words: Vec<String> = env.iter().map(|(key, _)| format!("\"${key}\"")).collect();
    let script = format!("exec {}", words.join(" "));
    ("/bin/sh".to_string(), vec!["-c".to_string(), script], env)
}

/// `add` with the job's command and options: the program shell-quoted in `cmd` (circusd splits
/// it with `shlex`), the arguments as a list in `args`, not started yet; a command circusd
/// would expand goes through [`literal_command`].
pub fn add_request(watcher: &str, args: &RunArgs) -> Request {
    let (cmd, rest, literal_env) = literal_command(&args.command);
    let mut options = Map::new();
    options.insert("respawn".into(), json!(false));
    options.insert("numprocesses".into(), json!(1));
    options.insert("singleton".into(), json!(true));
    // One spawn attempt: a command that cannot start is reported, not retried.
    options.insert("max_retry".into(), json!(1));
    options.insert("copy_env".into(), json!(true));
    // The output goes to files the node's log agent reads and deletes once `run` has gathered
    // it (crate::job::output); relative, so in circusd's directory, one per node.
    for stream in ["stdout", "stderr"] {
        let file = output_file(watcher, stream);
        options.insert(format!("{stream}_stream"), json!({"class": "FileStream", "filename": file}));
    }
    if let Some(dir) = &args.cwd {
        options.insert("working_dir".into(), json!(dir));
    }
    if !args.env.is_empty() || !literal_env.is_empty() {
        let env: Map<String, Value> = args.env.iter().chain(&literal_env).map(|(k, v)| (k.clone(), json!(v))).collect();
        options.insert("env".into(), Value::Object(env));
    }
    request(
        "add",
        // Not started yet: the job starts once the event stream is known to deliver
        // (see crate::job).
        json!({ "name": watcher, "cmd": cmd, "args": rest, "start": false, "options": options }),
    )
}

/// The file, relative to circusd's directory, that holds the job's `stream`.
pub fn output_file(watcher: &str, stream: &str) -> String {
    format!("{watcher}.{stream}.log")
}

/// `start <watcher>`: starts the job's process once the watcher exists everywhere.
pub fn start_request(watcher: &str) -> Request {
    request("start", json!({ "name": watcher, "waiting": false, "match": "simple" }))
}

/// `rm` that stops the job's process if it still runs.
pub fn rm_request(watcher: &str) -> Request {
    request("rm", json!({ "name": watcher, "nostop": false, "waiting": false }))
}

/// `list <watcher>`: the job's pids (none once it has exited).
pub fn list_request(watcher: &str) -> Request {
    request("list", json!({ "name": watcher }))
}

/// `text` quoted for `shlex.split`: as is when it only holds safe characters, else in single
/// quotes.
pub fn sh_quote(text: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c);
    if !text.is_empty() && text.chars().all(safe) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r#"'"'"'"#))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(command: &[&str]) -> RunArgs {
        RunArgs {
            name: "reset".into(),
            cwd: None,
            env: vec![],
            job_timeout: None,
            command: command.iter().map(|part| part.to_string()).collect(),
        }
    }

    #[test]
    fn add_sends_the_program_and_its_arguments() {
        let request = add_request("run-reset-ab12", &args(&["sh", "-c", "rm -rf /tmp/exp-data"]));
        assert_eq!(request.command, "add");
        assert_eq!(
            Value::Object(request.properties).to_string(),
            r#"{"name":"run-reset-ab12","cmd":"sh","args":["-c","rm -rf /tmp/exp-data"],"start":false,"options":{"respawn":false,"numprocesses":1,"singleton":true,"max_retry":1,"copy_env":true,"stdout_stream":{"class":"FileStream","filename":"run-reset-ab12.stdout.log"},"stderr_stream":{"class":"FileStream","filename":"run-reset-ab12.stderr.log"}}}"#
        );
        let mut full = args(&["/opt/my tool"]);
        full.cwd = Some("/tmp".into());
        full.env = vec![("A".into(), "1".into()), ("B".into(), "x=y".into())];
        let props = add_request("w", &full).properties;
        assert_eq!(props["cmd"], "'/opt/my tool'");
        assert_eq!(props["args"], json!([]));
        assert_eq!(props["options"]["working_dir"], "/tmp");
        assert_eq!(props["options"]["env"], json!({ "A": "1", "B": "x=y" }));
    }

    #[test]
    fn commands_circusd_would_expand_go_through_the_environment() {
        let request = add_request("w", &args(&["/bin/echo", "$(circus.env.PATH)", "((CIRCUS.WID))", "plain"]));
        let props = request.properties;
        assert_eq!(props["cmd"], "/bin/sh");
        assert_eq!(
            props["args"],
            json!(["-c", r#"exec "$CLUSTERCTL_RUN_0" "$CLUSTERCTL_RUN_1" "$CLUSTERCTL_RUN_2" "$CLUSTERCTL_RUN_3""#])
        );
        assert_eq!(
            props["options"]["env"],
            json!({"CLUSTERCTL_RUN_0": "/bin/echo", "CLUSTERCTL_RUN_1": "$(circus.env.PATH)",
                   "CLUSTERCTL_RUN_2": "((CIRCUS.WID))", "CLUSTERCTL_RUN_3": "plain"})
        );
        let script = props["args"][1].as_str().unwrap();
        assert!(!circusd_expands(script) && !circusd_expands("/bin/sh"));
        // Anything else is passed as before.
        let plain = add_request("w", &args(&["/bin/echo", "$PATH", "$(date)"])).properties;
        assert_eq!((plain["cmd"].clone(), plain["args"].clone()), (json!("/bin/echo"), json!(["$PATH", "$(date)"])));
        assert!(plain["options"].get("env").is_none());
    }

    #[test]
    fn values() {
        assert_eq!(parse_env("K=V=W").unwrap(), ("K".into(), "V=W".into()));
        assert_eq!(parse_env("K=").unwrap(), ("K".into(), String::new()));
        assert!(parse_env("=V").is_err() && parse_env("KV").is_err());
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert!(parse_duration("soon").is_err());
        assert!(parse_name("reset").is_ok() && parse_name("a.b").is_err());
        let name = watcher_name("reset");
        assert!(name.starts_with("run-reset-") && name.len() == "run-reset-".len() + 4, "{name}");
        assert_eq!(sh_quote("sh"), "sh");
        assert_eq!(sh_quote("it's"), r#"'it'"'"'s'"#);
        assert_eq!(sh_quote(""), "''");
        assert_eq!(rm_request("w").properties["nostop"], json!(false));
        assert_eq!(list_request("w").properties["name"], "w");
    }
}
