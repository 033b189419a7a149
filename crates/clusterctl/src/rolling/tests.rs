//! Tests of [`super`]: batch planning, waits, stopping and the summary.

use serde_json::json;

use super::*;
use crate::commands::{default_console, request};
use crate::master::fake::Scripted;

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|name| name.to_string()).collect()
}

fn settings(batch: usize, wait: bool, keep_going: bool) -> Roll {
    let wait = wait.then(|| WaitTarget { watcher: "dummy".into(), state: "active" });
    Roll { batch, wait, keep_going, wait_bound: Duration::ZERO, poll_every: Duration::ZERO }
}

/// Runs a roll of `restart dummy` over `nodes`; returns the summary, stdout and stderr.
fn run(master: &Scripted, nodes: &[&str], roll: &Roll, json: bool) -> (Summary, String, String) {
    let restart = request("restart", json!({ "name": "dummy", "waiting": false, "match": "glob" }));
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut output = Output { render: default_console, json, out: &mut out, err: &mut err };
    let summary = super::roll(master, &restart, &names(nodes), roll, &mut output).unwrap();
    (summary, String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
}

const OK: Option<&str> = Some(r#"{"status": "ok", "time": 1.0, "id": 1}"#);
const ACTIVE: Option<&str> = Some(r#"{"status": "active", "time": 1.0, "id": 1}"#);
const STOPPED: Option<&str> = Some(r#"{"status": "stopped", "time": 1.0, "id": 1}"#);
const DOWN: Option<&str> = Some(r#"{"status": "error", "reason": "node b is down", "errno": 5, "id": 1}"#);

#[test]
fn batches_keep_the_order() {
    let nodes = names(&["a", "b", "c", "d", "e"]);
    assert_eq!(batches(&nodes, 2), vec![names(&["a", "b"]), names(&["c", "d"]), names(&["e"])]);
    assert_eq!(batches(&nodes, 9), vec![nodes.clone()]);
    assert_eq!(batches(&nodes, 0).len(), 5);
}

#[test]
fn wait_targets() {
    let target = |command, props| wait_target(&request(command, props));
    let restart = target("restart", json!({ "name": "dummy", "waiting": false, "match": "glob" })).unwrap();
    assert_eq!(restart, WaitTarget { watcher: "dummy".into(), state: "active" });
    assert_eq!(target("stop", json!({ "name": "dummy", "match": "glob" })).unwrap().state, "stopped");
    assert_eq!(target("add", json!({ "name": "x", "cmd": "sleep 9", "start": true })).unwrap().state, "active");
    assert_eq!(target("add", json!({ "name": "x", "cmd": "sleep 9", "start": false })).unwrap().state, "stopped");
    assert_eq!(target("incr", json!({ "name": "dummy", "waiting": false })).unwrap().state, "active");
    assert!(target("restart", json!({ "waiting": false, "match": "glob" })).is_err());
    assert!(target("restart", json!({ "name": "dum*", "match": "glob" })).is_err());
    assert!(target("restart", json!({ "name": "dum", "match": "regex" })).is_err());
    assert!(target("status", json!({ "name": "dummy" })).is_err());
}

#[test]
fn one_node_at_a_time_with_wait() {
    let master = Scripted::new(&[OK, ACTIVE, OK, ACTIVE]);
    let (summary, out, err) = run(&master, &["first", "third"], &settings(1, true, false), false);
    assert_eq!(summary, Summary { done: names(&["first", "third"]), ..Summary::default() });
    assert_eq!(summary.exit_code(), exit::OK);
    assert_eq!(master.nodes(), ["first", "first", "third", "third"]);
    let commands: Vec<String> = master.requests.borrow().iter().map(|(c, _)| c.clone()).collect();
    assert_eq!(commands, ["restart", "status", "restart", "status"]);
    assert_eq!(
        out,
        "== batch 1/2: first (1)\n---------------\nfirst (1)\n---------------\nok\n== waited: dummy active on first (1)\n\
         == batch 2/2: third (1)\n---------------\nthird (1)\n---------------\nok\n== waited: dummy active on third (1)\n\
         == summary\ndone: first,third (2)\n"
    );
    assert_eq!(err, "");
}

#[test]
fn a_failed_batch_stops_the_roll() {
    let gathered = Some(
        r#"{"status": "error", "reason": "1 of 2 nodes failed", "replies": {"a": {"status": "ok"}, "b": {"status": "error", "reason": "node b is down", "errno": 5}}}"#,
    );
    let master = Scripted::new(&[gathered]);
    let (summary, out, err) = run(&master, &["a", "b", "c", "d"], &settings(2, false, false), false);
    assert_eq!(summary.done, names(&["a"]));
    assert_eq!(summary.failed, names(&["b"]));
    assert_eq!(summary.not_reached, names(&["c", "d"]));
    assert_eq!(summary.exit_code(), exit::ERROR_REPLY);
    assert_eq!(master.nodes(), ["a,b"]);
    assert!(out.ends_with("== summary\ndone: a (1)\nfailed: b (1)\nnot reached: c,d (2)\n"), "{out}");
    assert_eq!(err, "---------------\nb (1): node b is down\n== stopped after batch 1/2 (--keep-going goes on)\n");
}

#[test]
fn keep_going_runs_every_batch() {
    let master = Scripted::new(&[DOWN, OK, None]);
    let (summary, _, err) = run(&master, &["b", "c", "d"], &settings(1, false, true), false);
    assert_eq!(summary.done, names(&["c"]));
    assert_eq!(summary.failed, names(&["b", "d"]));
    assert!(summary.not_reached.is_empty());
    assert!(err.contains("d (1): no reply from the master: Timed out."), "{err}");
}

#[test]
fn a_node_that_does_not_become_active_fails_its_batch() {
    let master = Scripted::new(&[OK, STOPPED]);
    let (summary, _, err) = run(&master, &["a", "b"], &settings(1, true, false), false);
    assert_eq!(summary.failed, names(&["a"]));
    assert_eq!(summary.not_reached, names(&["b"]));
    assert!(err.starts_with("a (1): dummy not active after 0s (last status: stopped)\n"), "{err}");
}

#[test]
fn wait_polls_until_active() {
    let roll = Roll { wait_bound: Duration::from_secs(5), ..settings(2, true, false) };
    let target = roll.wait.clone().unwrap();
    let first = r#"{"status": "ok", "replies": {"a": {"status": "active"}, "b": {"status": "starting"}}}"#;
    let master = Scripted::new(&[Some(first), ACTIVE]);
    let results = wait_for(&master, &target, &names(&["a", "b"]), &roll);
    assert_eq!(results, vec![("a".to_string(), Ok(())), ("b".to_string(), Ok(()))]);
    assert_eq!(master.nodes(), ["a,b", "b"]);
}

#[test]
fn json_output() {
    let master = Scripted::new(&[OK, ACTIVE, DOWN]);
    let (summary, out, _) = run(&master, &["a", "b"], &settings(1, true, false), true);
    assert_eq!(summary.failed, names(&["b"]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            r#"{"batch": 1, "node": "a", "reply": {"status": "ok", "time": 1.0}}"#,
            r#"{"batch": 1, "node": "a", "wait": {"status": "ok", "state": "active"}}"#,
            r#"{"batch": 2, "node": "b", "reply": {"status": "error", "reason": "node b is down", "errno": 5}}"#,
            r#"{"summary": {"done": ["a"], "failed": ["b"], "not_reached": []}}"#,
        ]
    );
}

/// The roll settings for a command line, or the usage error.
fn settings_for(line: &str) -> Result<Option<Roll>, String> {
    let parsed = crate::cli::parse(std::iter::once("clusterctl").chain(line.split_whitespace())).unwrap();
    let plan = crate::dispatch::plan(&parsed.cli.command).map_err(|usage| usage.0)?;
    super::settings(&parsed.cli.global, &plan).map_err(|usage| usage.0)
}

#[test]
fn settings_from_the_command_line() {
    assert_eq!(settings_for("--node all restart dummy").unwrap(), None);
    let roll = settings_for("--node all!second restart dummy --batch 1 --wait --timeout 45").unwrap().unwrap();
    assert_eq!(roll.batch, 1);
    assert_eq!(roll.wait, Some(WaitTarget { watcher: "dummy".into(), state: "active" }));
    assert_eq!(roll.wait_bound, Duration::from_secs(45));
    let whole = settings_for("--node all incr dummy --wait").unwrap().unwrap();
    assert_eq!((whole.batch, whole.wait_bound), (usize::MAX, DEFAULT_WAIT_BOUND));
    assert!(settings_for("--node all restart --batch 2 --keep-going").unwrap().unwrap().keep_going);
    for (line, error) in [
        ("restart dummy --batch 1", "--batch and --wait need --node EXPR"),
        ("--node all restart dummy --keep-going", "--keep-going needs --batch"),
        (
            "--node all status dummy --wait",
            "--wait needs a command naming a watcher (start, restart, reload, incr, ...)",
        ),
        ("--node all listen --batch 1", "--batch, --wait and --keep-going only apply to commands sent to nodes"),
        ("--node all run x --batch 1 -- true", "--batch, --wait and --keep-going only apply to commands sent to nodes"),
    ] {
        assert_eq!(settings_for(line).unwrap_err(), error, "{line}");
    }
}
