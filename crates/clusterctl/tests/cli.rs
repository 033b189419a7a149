//! clusterctl end to end against a scripted server (the protocol crate's ROUTER answering with
//! canned replies): what goes on the wire, what is printed where, and the exit statuses. Tests
//! against a real circusd live in the workspace's e2e suite.

mod common;

use common::ports::free_port;
use common::run;
use common::scripted::canned as server;

use std::process::Command;

use serde_json::{json, Value};

/// The raw request with its random id replaced by `ID`.
fn masked(raw: &str) -> String {
    let request: Value = serde_json::from_str(raw).unwrap();
    raw.replace(request["id"].as_str().unwrap(), "ID")
}

#[test]
fn docs_example_sends_node_and_prints_the_count() {
    let (endpoint, handle) = server(vec![json!({"status": "ok", "time": 1.5, "numprocesses": 4})]);
    let (code, out, err) = run(&["incr", "dummy", "--endpoint", &endpoint, "--node", "first", "--waiting"]);
    assert_eq!((code, out.as_str(), err.as_str()), (0, "4\n", ""));
    let sent = handle.join().unwrap();
    assert_eq!(
        masked(&sent[0].raw),
        r#"{"command": "incr", "properties": {"name": "dummy", "waiting": true, "node": "first"}, "id": "ID"}"#
    );
}

#[test]
fn error_replies_go_to_stderr_with_status_3() {
    let error = json!({"status": "error", "reason": "program nope not found", "tb": null, "time": 1.0, "errno": 3});
    let (endpoint, handle) = server(vec![error.clone(), error.clone(), error]);
    assert_eq!(
        run(&["--endpoint", &endpoint, "stop", "nope"]),
        (3, String::new(), "error: program nope not found\n".into())
    );
    // circusctl prints a bare `error` for status; clusterctl prints the reason (issue 12).
    assert_eq!(
        run(&["--endpoint", &endpoint, "status", "nope"]),
        (3, String::new(), "error: program nope not found\n".into())
    );
    let (code, out, err) = run(&["status", "nope", "--json", "--endpoint", &endpoint]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(
        out.starts_with(
            r#"{"status": "error", "reason": "program nope not found", "tb": null, "time": 1.0, "errno": 3, "id": ""#
        ),
        "{out}"
    );
    handle.join().unwrap();
}

#[test]
fn prettify_sorts_and_indents() {
    let (endpoint, handle) = server(vec![json!({"status": "ok", "time": 2.0, "numwatchers": 1})]);
    let (code, out, _) = run(&["--json", "--prettify", "numwatchers", "--endpoint", &endpoint]);
    assert_eq!(code, 0);
    let id = out.lines().nth(1).unwrap().to_string();
    assert_eq!(out, format!("{{\n{id}\n  \"numwatchers\": 1,\n  \"status\": \"ok\",\n  \"time\": 2.0\n}}\n"));
    handle.join().unwrap();
}

#[test]
fn replies_the_console_cannot_print_exit_1() {
    let (endpoint, handle) = server(vec![json!({"time": 1.0}), json!({"status": "ok", "time": 1.0})]);
    let (code, _, err) = run(&["--endpoint", &endpoint, "list"]);
    assert_eq!((code, err.as_str()), (1, "error: malformed reply: missing 'status'\n"));
    let (code, _, err) = run(&["--endpoint", &endpoint, "dstats"]);
    assert_eq!((code, err.as_str()), (1, "error: malformed reply: missing or invalid 'info'\n"));
    handle.join().unwrap();
}

#[test]
fn cluster_commands_render_their_replies() {
    let nodes = json!({"status": "ok", "time": 10.0, "nodes": [{"name": "first", "endpoint": "tcp://a:1",
        "pubsub_endpoint": "tcp://a:2", "stats_endpoint": "tcp://a:3", "state": "up", "source": "static",
        "last_seen": 9.5, "rtt_ms": 0.3, "missed_probes": 0}]});
    let registered =
        json!({"status": "ok", "time": 1.0, "node": {"name": "second", "endpoint": "tcp://b:1"}, "replaced": false});
    let (endpoint, handle) = server(vec![nodes, registered]);
    let (code, out, _) = run(&["nodes", "--endpoint", &endpoint]);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "NAME   STATE  SOURCE  ENDPOINT   PUBSUB     STATS      LAST SEEN  DROPPED\nfirst  up     static  tcp://a:1  tcp://a:2  tcp://a:3  0.5s ago   -\n"
    );
    let (code, out, _) = run(&["register_node", "second", "tcp://b:1", "tcp://b:3", "--endpoint", &endpoint]);
    assert_eq!((code, out.as_str()), (0, "registered second (tcp://b:1)\n"));
    let sent = handle.join().unwrap();
    assert_eq!(
        masked(&sent[1].raw),
        r#"{"command": "register_node", "properties": {"name": "second", "endpoint": "tcp://b:1", "stats_endpoint": "tcp://b:3"}, "id": "ID"}"#
    );
}

#[test]
fn timeouts_name_the_endpoint_and_exit_1() {
    let port = free_port();
    let endpoint = format!("tcp://127.0.0.1:{port}");
    let (code, out, err) = run(&["--timeout", "0.2", "--endpoint", &endpoint, "status"]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(err, format!("error: no answer from {endpoint} within 0.2s (is clusterd running there?)\n"));
}

#[test]
fn endpoints_without_a_scheme_are_refused_at_once() {
    let (code, out, err) = run(&["--endpoint", "127.0.0.1:5558", "status"]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert_eq!(err, "error: --endpoint 127.0.0.1:5558 has no scheme: write tcp://127.0.0.1:5558 (or ipc://PATH)\n");
    let (code, _, err) = run(&["listen", "--pubsub-endpoint", "127.0.0.1:5560"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.starts_with("error: --pubsub-endpoint 127.0.0.1:5560 has no scheme"), "{err}");
}

#[test]
fn warnings_go_to_stderr_and_reloadconfig_reports() {
    let registered = json!({"status": "ok", "time": 1.0, "node": {"name": "tmp3", "endpoint": "tcp://b:1"},
        "replaced": false, "warning": "pubsub_endpoint unknown: node tmp3 timed out after 2s"});
    let reloaded = json!({"status": "ok", "time": 1.0, "added": ["third"], "changed": [], "removed": [],
        "needs_restart": ["stats_endpoint"]});
    let (endpoint, handle) = server(vec![registered, reloaded]);
    let (code, out, err) = run(&["register_node", "tmp3", "tcp://b:1", "tcp://b:3", "--endpoint", &endpoint]);
    assert_eq!((code, out.as_str()), (0, "registered tmp3 (tcp://b:1)\n"));
    assert_eq!(err, "warning: pubsub_endpoint unknown: node tmp3 timed out after 2s\n");
    let (code, out, _) = run(&["reloadconfig", "--endpoint", &endpoint]);
    assert_eq!((code, out.as_str()), (0, "added: third\nchanged: -\nremoved: -\nneeds_restart: stats_endpoint\n"));
    handle.join().unwrap();
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let (code, out, err) = run(&["set", "dummy", "bogus", "1"]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(err.starts_with("error: unknown key 'bogus'\n\nUsage: clusterctl set"), "{err}");
    let (code, out, err) = run(&["--help"]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(out.contains("register_node") && out.contains("--node <EXPR>"), "{out}");
}

#[test]
fn the_binary_maps_statuses_to_exit_codes() {
    let binary = env!("CARGO_BIN_EXE_clusterctl");
    let output = Command::new(binary).args(["incr"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let port = free_port();
    let output = Command::new(binary)
        .args(["numwatchers", "--timeout", "0.1"])
        .env("CLUSTERCTL_ENDPOINT", format!("tcp://127.0.0.1:{port}"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).starts_with("error: no answer from tcp://127.0.0.1:"));
}
