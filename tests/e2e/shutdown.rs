//! Graceful shutdown: on SIGTERM or SIGINT the master refuses new requests with errno 3,
//! answers those in flight (the node's reply when it comes within the grace period, an error
//! after it), writes the state file one last time and exits 0; a second SIGINT exits at once
//! with 130.

use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cluster_e2e::node::stubborn_watcher;
use cluster_e2e::{call, json, ok, wait_for, CircusNode, Master, Value};

/// A node `first` with `dummy` and a watcher `stubborn` whose stop takes `graceful` seconds,
/// behind a master.
fn stubborn_cluster(graceful: u32) -> (CircusNode, Master) {
    let node = CircusNode::start_with("first", &[("dummy", 1)], &stubborn_watcher("stubborn", graceful));
    node.wait_numprocesses("stubborn", 1);
    let master = Master::start(&[&node]);
    (node, master)
}

/// Sends `stop first:stubborn` with `waiting: true` from a thread, and returns once the master
/// counts it in flight.
fn slow_stop(master: &Master) -> JoinHandle<Result<Value, String>> {
    let endpoint = master.endpoint.clone();
    let call = std::thread::spawn(move || {
        call(&endpoint, "stop", json!({"name": "first:stubborn", "waiting": true}), Duration::from_secs(30))
    });
    master.wait_in_flight(1);
    call
}

#[test]
fn sigterm_answers_the_request_in_flight_then_exits_zero() {
    let (_node, mut master) = stubborn_cluster(3);
    let second = CircusNode::start("second", &[("dummy2", 1)]);
    ok(master.call(
        "register_node",
        json!({"name": "second", "endpoint": second.endpoint, "stats_endpoint": second.stats_endpoint}),
    ));
    let stop = slow_stop(&master);
    let signalled = Instant::now();
    master.signal(libc::SIGTERM);

    // While it drains, new requests are refused at once, not left to time out.
    let refused = wait_for("a request refused while stopping", || {
        match call(&master.endpoint, "nodes", json!({}), Duration::from_secs(2)) {
            Ok(reply) if reply["status"] == "error" => Ok(reply),
            other => Err(format!("{other:?}")),
        }
    });
    assert_eq!(refused["errno"], 3, "{refused}");
    assert!(refused["reason"].as_str().unwrap_or_default().contains("shutting down"), "{refused}");

    let reply = stop.join().expect("thread").expect("the request in flight is answered");
    assert_eq!(reply["status"], "ok", "the node's own reply: {reply}");
    assert_eq!(master.wait_exit(Duration::from_secs(10)), Some(0), "{}", master.stderr());
    assert!(signalled.elapsed() < Duration::from_secs(10), "took {:?}", signalled.elapsed());
    let state = std::fs::read_to_string(master.dir().join("clusterd-state.json")).expect("state file");
    assert!(state.contains("\"second\""), "the registered node is saved: {state}");
    let log = master.stderr();
    assert!(log.contains("stopping") && log.contains("clusterd stopped"), "{log}");
}

#[test]
fn a_request_still_running_after_the_grace_period_gets_an_error() {
    // The stop takes 8 s, longer than the 5 s grace period.
    let (_node, mut master) = stubborn_cluster(8);
    let stop = slow_stop(&master);
    let signalled = Instant::now();
    master.signal(libc::SIGTERM);
    let reply = stop.join().expect("thread").expect("an answer, not silence");
    assert_eq!(reply["status"], "error", "{reply}");
    assert_eq!(reply["errno"], 3, "{reply}");
    assert!(reply["reason"].as_str().unwrap_or_default().contains("shutting down"), "{reply}");
    assert_eq!(master.wait_exit(Duration::from_secs(10)), Some(0), "{}", master.stderr());
    // Grace (5 s) plus generous slack; not the 8 s of the stop.
    assert!(signalled.elapsed() < Duration::from_secs(8), "took {:?}", signalled.elapsed());
}

#[test]
fn a_second_sigint_exits_at_once() {
    let (_node, mut master) = stubborn_cluster(8);
    // The client is never answered (the operator asked for "now"); its thread is left to time out.
    let _stop = slow_stop(&master);
    master.signal(libc::SIGINT);
    master.wait_log("stopping");
    let second = Instant::now();
    master.signal(libc::SIGINT);
    assert_eq!(master.wait_exit(Duration::from_secs(4)), Some(130), "{}", master.stderr());
    assert!(second.elapsed() < Duration::from_secs(4), "took {:?}", second.elapsed());
}

#[test]
fn sigterm_without_traffic_exits_zero_quickly() {
    let node = CircusNode::start("first", &[("dummy", 1)]);
    let mut master = Master::start(&[&node]);
    let signalled = Instant::now();
    master.signal(libc::SIGTERM);
    assert_eq!(master.wait_exit(Duration::from_secs(10)), Some(0), "{}", master.stderr());
    // Nothing to drain: no waiting for the grace period.
    assert!(signalled.elapsed() < Duration::from_secs(4), "took {:?}", signalled.elapsed());
    assert_eq!(node.numprocesses("dummy"), 1, "the node goes on");
}
