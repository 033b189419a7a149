//! Hostile input that used to cost the master unbounded memory or CPU (issue 11): node-set
//! expressions, node names. The master runs under a capped address space (RLIMIT_AS), so
//! growing without bound kills it, and every test ends by checking that it is still there.

use std::time::Duration;

use cluster_e2e::master::CLUSTER_SECTION;
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
