//! Hostile input that used to cost the master unbounded memory or CPU (issue 11): node-set
//! expressions, node names. The master runs under a capped address space (RLIMIT_AS), so
//! growing without bound kills it, and every test ends by checking that it is still there.

use std::time::Duration;

use cluster_e2e::master::{run_to_exit, write_file, CLUSTER_SECTION};
use cluster_e2e::{call, json, ports, Master, Value};

/// Room the master may grow by in these tests: far more than it needs, far less than what the
/// expressions below cost when ranges are expanded (gigabytes).
const HEADROOM: u64 = 256 * 1024 * 1024;

/// A master with static nodes `n1`..`n3` (on closed ports: routing needs only their names) and
/// a read-only endpoint, capped at [`HEADROOM`].
fn capped_master() -> (Master, String) {
    let readonly = ports::free_endpoint();
    let mut config = format!("{CLUSTER_SECTION}readonly_endpoint = \"{readonly}\"\n");
    for name in ["n1", "n2", "n3"] {
        config.push_str(&format!("\n[node.{name}]\nendpoint = \"{}\"\n", ports::free_endpoint()));
    }
    let master = Master::start_unsettled(&config);
    master.cap_memory(HEADROOM);
    (master, readonly)
}

/// Sends one request to `endpoint` and returns the reply (a timeout is a failure).
fn ask(master: &mut Master, endpoint: &str, command: &str, properties: Value) -> Value {
    let reply = call(endpoint, command, properties.clone(), Duration::from_secs(20));
    master.assert_running();
    reply.unwrap_or_else(|e| panic!("{command} {properties}: {e}"))
}

/// Asserts an errno 3 reply whose reason contains `limit`.
#[track_caller]
fn assert_refused(reply: &Value, limit: &str) {
    assert_eq!(reply["status"], "error", "{reply}");
    assert_eq!(reply["errno"], 3, "{reply}");
    let reason = reply["reason"].as_str().unwrap_or_default();
    assert!(reason.contains(limit), "expected {limit:?} in {reason}");
    assert!(reason.len() < 500, "the reason quotes the expression in part: {} bytes", reason.len());
}

#[test]
fn node_set_expressions_cannot_exhaust_the_master() {
    let (mut master, readonly) = capped_master();
    // 20 KB: before the fix, 99,999 names of 20 KB each (2 GB).
    let huge = format!("n[{}1-99999]", "0".repeat(20_000));
    // Fits the length limit, but pads to 101 digits (no node name is that long).
    let padded = format!("n[{}1-99999]", "0".repeat(100));
    // 300 items of 100,000 names each.
    let many = vec!["n[1-99999]"; 300].join(",");
    for endpoint in [master.endpoint.clone(), readonly] {
        let reply = ask(&mut master, &endpoint, "nodeset", json!({"expr": huge}));
        assert_refused(&reply, "bytes long (limit 16384)");
        let reply = ask(&mut master, &endpoint, "nodeset", json!({"expr": padded}));
        assert_refused(&reply, "wider than a node name (limit 63)");
        let reply = ask(&mut master, &endpoint, "nodeset", json!({"expr": many}));
        assert_refused(&reply, "more than 256 items (limit 256)");
        let reply = ask(&mut master, &endpoint, "status", json!({"node": huge}));
        assert_refused(&reply, "bytes long (limit 16384)");
        let reply = ask(&mut master, &endpoint, "numprocesses", json!({"name": format!("{padded}:dummy")}));
        assert_refused(&reply, "(limit 63)");
        // Big ranges are matched against the three names, not expanded.
        let wide = vec!["n[1-99999]"; 250].join(",");
        let reply = ask(&mut master, &endpoint, "nodeset", json!({"expr": wide}));
        assert_eq!(reply["nodes"], json!(["n1", "n2", "n3"]), "{reply}");
        let reply = ask(&mut master, &endpoint, "nodeset", json!({"expr": format!("n[{}1-99999]", "0".repeat(60))}));
        assert_refused(&reply, "matches no node (nodes: n1, n2, n3)");
    }
    master.assert_running();
    assert_eq!(master.call("nodes", json!({}))["nodes"].as_array().map(Vec::len), Some(3));
}

/// A `register_node` with `name` and `endpoint` (and a fresh stats endpoint).
fn register(master: &Master, name: &str, endpoint: &str) -> Value {
    master.call("register_node", json!({"name": name, "endpoint": endpoint, "stats_endpoint": ports::free_endpoint()}))
}

#[test]
fn control_characters_are_refused_in_endpoints_and_names() {
    let master = Master::start_unsettled(CLUSTER_SECTION);
    let forged = "ipc:///tmp/x\n2026-12-03T00:00:00Z  INFO clusterd::audit: audit command=\"quit\" forged=true";
    let fresh = ports::free_endpoint();
    let cases = [
        json!({"name": "evil", "endpoint": forged, "stats_endpoint": ports::free_endpoint()}),
        json!({"name": "evil", "endpoint": fresh, "stats_endpoint": "ipc:///tmp/s\r\u{1b}[2J"}),
        json!({"name": "evil", "endpoint": fresh, "stats_endpoint": ports::free_endpoint(), "pubsub_endpoint": "ipc:///tmp/p\u{7}"}),
    ];
    for properties in cases {
        let reply = master.call("register_node", properties.clone());
        assert_eq!(reply["errno"], 3, "{properties}: {reply}");
        let reason = reply["reason"].as_str().unwrap_or_default();
        assert!(reason.contains("control characters are not allowed in an endpoint"), "{reason}");
        assert!(!reason.chars().any(char::is_control), "the reason is escaped: {reason:?}");
    }
    let reply = register(&master, "evil\nline", &ports::free_endpoint());
    assert_eq!(reply["errno"], 3, "{reply}");
    assert!(master.call("nodes", json!({}))["nodes"].as_array().is_some_and(Vec::is_empty));
    // Commands are clients' text too: logged as escaped fields, never as raw lines.
    let _ = master.call("x\nclusterd::audit forged", json!({}));
    master.wait_log("x\\nclusterd::audit forged");
    let stderr = master.stderr();
    let forged_lines: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with("clusterd::audit forged") || line.starts_with("2026-12-03T00"))
        .collect();
    assert!(forged_lines.is_empty(), "forged log lines: {forged_lines:?}");

    // The same for a configuration file: clusterd refuses to start (exit 2).
    let dir = tempfile::tempdir().expect("tempdir");
    let config = format!(
        "{}\n[node.evil]\nendpoint = \"ipc:///tmp/a\\nb\"\n",
        CLUSTER_SECTION
            .replace("{endpoint}", &ports::free_endpoint())
            .replace("{stats_endpoint}", &ports::free_endpoint())
            .replace("{pubsub_endpoint}", &ports::free_endpoint())
    );
    let out = run_to_exit(&write_file(dir.path(), "evil.toml", &config));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(r"ipc:///tmp/a\nb") && stderr.lines().count() == 1, "{stderr}");
}

#[test]
fn node_names_are_dns_labels_and_not_reserved_words() {
    let mut config = CLUSTER_SECTION.to_string();
    for i in 1..=8 {
        config.push_str(&format!("\n[node.n{i}]\nendpoint = \"{}\"\n", ports::free_endpoint()));
    }
    let mut master = Master::start_unsettled(&config);
    master.cap_memory(HEADROOM);
    let long = "a".repeat(64);
    let huge = "b".repeat(1_000_000);
    for (name, expected) in [
        (long.as_str(), "is 64 characters long (limit 63, a DNS label)"),
        (huge.as_str(), "is 1000000 characters long (limit 63, a DNS label)"),
        ("all", "is reserved"),
        ("ALL", "is reserved"),
        ("-rf", "is reserved"),
        ("--help", "is reserved"),
    ] {
        let reply = register(&master, name, &ports::free_endpoint());
        assert_eq!(reply["errno"], 3, "{name:.70}: {reply:.300}");
        let reason = reply["reason"].as_str().unwrap_or_default();
        assert!(reason.contains(expected), "{name:.70}: {reason:.300}");
        assert!(reason.len() < 300, "{name:.70}: the reason quotes the name in part: {} bytes", reason.len());
    }
    assert_eq!(register(&master, &"c".repeat(63), &ports::free_endpoint())["status"], "ok");
    // Errors that list nodes stop after five.
    let reply = master.call("status", json!({"node": huge}));
    let reason = reply["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("(nodes: "), "{reason:.300}");
    assert!(reason.ends_with("... and 4 more)"), "{reason:.300}");
    assert!(reason.len() < 300, "{} bytes", reason.len());
    master.assert_running();

    // A configuration with a reserved name is refused (exit 2), naming it.
    let dir = tempfile::tempdir().expect("tempdir");
    let config = format!(
        "{}\n[node.all]\nendpoint = \"{}\"\n",
        CLUSTER_SECTION
            .replace("{endpoint}", &ports::free_endpoint())
            .replace("{stats_endpoint}", &ports::free_endpoint())
            .replace("{pubsub_endpoint}", &ports::free_endpoint()),
        ports::free_endpoint()
    );
    let out = run_to_exit(&write_file(dir.path(), "all.toml", &config));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("node name 'all' is reserved"), "{stderr}");
}
