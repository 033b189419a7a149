//! A node that dies (kill -9): requests to it fail fast with an error naming it, the other node
//! keeps answering at once, the registry marks it down, and it is served again once back.

use std::time::{Duration, Instant};

use cluster_e2e::cli::circusctl;
use cluster_e2e::cluster::STRICT_READS;
use cluster_e2e::{call, json, Cluster, Value};

/// How long a request to a dead node may take: well under circusctl's 5 s default timeout and
/// within the configured `node_timeout` (4 s): a refused connection is known at once. Generous,
/// because these machines are noisy; the point is "not the 5 s client timeout".
const DEAD_BUDGET: Duration = Duration::from_secs(4);

/// How long a request to a live node may take while the other one is dead.
const LIVE_BUDGET: Duration = Duration::from_secs(2);

fn timed(endpoint: &str, command: &str, properties: Value) -> (Value, Duration) {
    let start = Instant::now();
    let reply =
        call(endpoint, command, properties, Duration::from_secs(10)).unwrap_or_else(|e| panic!("no reply: {e}"));
    (reply, start.elapsed())
}

fn reason(reply: &Value) -> &str {
    reply["reason"].as_str().unwrap_or_default()
}

#[test]
fn dead_node_fails_fast_and_the_other_still_answers() {
    // Strict merged reads: the fan-out below is all or nothing (partial.rs tests the default).
    let mut c = Cluster::start_keyed(STRICT_READS);
    c.master.wait_node_state("second", "alive");
    c.second.kill9();

    for attempt in 0..3 {
        let (reply, took) = timed(c.ep(), "status", json!({"name": "second:dummy2"}));
        assert_eq!(reply["status"], "error", "attempt {attempt}: {reply}");
        assert!(reason(&reply).contains("second"), "the error names the node: {reply}");
        assert!(took < DEAD_BUDGET, "attempt {attempt}: a dead node took {took:?} to fail: {reply}");

        let (reply, took) = timed(c.ep(), "status", json!({"name": "first:dummy"}));
        assert_eq!(reply["status"], "active", "{reply}");
        assert!(took < LIVE_BUDGET, "the live node took {took:?}");
    }

    // Fan-out: the failure is reported, naming the dead node.
    let (reply, took) = timed(c.ep(), "status", json!({}));
    assert_eq!(reply["status"], "error", "{reply}");
    assert!(reason(&reply).contains("second"), "{reply}");
    assert!(took < DEAD_BUDGET, "fan-out took {took:?}");

    // Stock circusctl with its default 5 s timeout gets an answer, not "Timed out.".
    let run = cluster_e2e::cli::run(
        &cluster_e2e::paths::venv_bin("circusctl"),
        ["--endpoint", c.ep(), "incr", "second:dummy2"],
    );
    assert_eq!(run.code, 3, "{run:?}");
    assert_eq!(circusctl(c.ep(), &["status", "first:dummy"]).ok().trim(), "active");

    c.master.wait_node_state("second", "down");
    c.master.wait_node_state("first", "alive");
}

#[test]
fn restarted_node_is_served_again() {
    let mut c = Cluster::start();
    c.second.kill9();
    let (reply, _) = timed(c.ep(), "status", json!({"name": "second:dummy2"}));
    assert_eq!(reply["status"], "error", "{reply}");

    c.second.restart();
    c.master.wait_node_state("second", "alive");
    let (reply, took) = timed(c.ep(), "status", json!({"name": "second:dummy2"}));
    assert_eq!(reply["status"], "active", "{reply}");
    assert!(took < LIVE_BUDGET, "{took:?}");
    let (reply, _) = timed(c.ep(), "numprocesses", json!({"name": "second:dummy2"}));
    assert_eq!(reply["numprocesses"], 2, "{reply}");
    // Fan-out works again.
    let out = circusctl(c.ep(), &["status"]);
    assert!(out.ok().contains("second:dummy2: active"), "{out:?}");
}

#[test]
fn stopped_node_is_not_waited_for_with_waiting() {
    // `waiting: true` requests get the long deadline, but a node that is down is known at once.
    let mut c = Cluster::start();
    c.first.stop();
    let (reply, took) = timed(c.ep(), "incr", json!({"name": "first:dummy", "waiting": true}));
    assert_eq!(reply["status"], "error", "{reply}");
    assert!(reason(&reply).contains("first"), "{reply}");
    assert!(took < DEAD_BUDGET, "took {took:?}");
}
