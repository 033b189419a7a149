//! Faults of real circusd nodes while requests are in flight: a node killed (`kill -9`),
//! restarted, or frozen (SIGSTOP). The client always gets an answer naming the node, well
//! before its own timeout; the other node is served as usual; the master keeps serving and the
//! node is `alive` again once it is back.

use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cluster_e2e::node::stubborn_watcher;
use cluster_e2e::{call, json, procs, wait_for, CircusNode, Master, Value};

/// node_timeout of the test master (helper's CLUSTER_SECTION).
const NODE_TIMEOUT: Duration = Duration::from_secs(4);

/// Bound for a request to the healthy node: generous, far below any timeout.
const LIVE_BUDGET: Duration = Duration::from_secs(2);

/// Node `first` (`dummy`, and `stubborn` whose stop takes `graceful` seconds), node `second`
/// (`dummy2`), and a master over both.
fn cluster(graceful: u32) -> (CircusNode, CircusNode, Master) {
    let first = CircusNode::start_with("first", &[("dummy", 1)], &stubborn_watcher("stubborn", graceful));
    first.wait_numprocesses("stubborn", 1);
    let second = CircusNode::start("second", &[("dummy2", 1)]);
    let master = Master::start(&[&first, &second]);
    (first, second, master)
}

/// `properties` for `command` sent from a thread; returns once the master counts it in flight.
fn in_flight(
    master: &Master,
    command: &'static str,
    properties: Value,
) -> JoinHandle<(Result<Value, String>, Instant)> {
    let endpoint = master.endpoint.clone();
    let request = std::thread::spawn(move || {
        let reply = call(&endpoint, command, properties, Duration::from_secs(60));
        (reply, Instant::now())
    });
    master.wait_in_flight(1);
    request
}

/// Asks `status second:dummy2` and checks it is answered, fast.
#[track_caller]
fn second_is_served(master: &Master) {
    let start = Instant::now();
    let reply = master.call("status", json!({"name": "second:dummy2"}));
    assert_eq!(reply["status"], "active", "{reply}");
    assert!(start.elapsed() < LIVE_BUDGET, "the healthy node took {:?}", start.elapsed());
}

fn reason(reply: &Value) -> &str {
    reply["reason"].as_str().unwrap_or_default()
}

#[test]
fn a_node_killed_during_a_waiting_request() {
    let (mut first, _second, master) = cluster(10);
    let request = in_flight(&master, "stop", json!({"name": "first:stubborn", "waiting": true}));
    let killed = Instant::now();
    first.kill9();
    let (reply, answered) = request.join().expect("thread");
    let reply = reply.expect("an answer, not a client timeout");
    assert_eq!(reply["status"], "error", "{reply}");
    assert!(reason(&reply).contains("node first closed the connection"), "names the node and why: {reply}");
    let took = answered.duration_since(killed);
    assert!(took < NODE_TIMEOUT, "answered {took:?} after the kill, not within node_timeout: {reply}");

    second_is_served(&master);
    master.wait_node_state("first", "down");
    second_is_served(&master);
    first.restart();
    master.wait_node_state("first", "alive");
    let reply = master.call("status", json!({"name": "first:dummy"}));
    assert_eq!(reply["status"], "active", "served again: {reply}");
}

#[test]
fn a_node_restarted_during_a_waiting_request() {
    let (mut first, _second, master) = cluster(3);
    let request = in_flight(&master, "stop", json!({"name": "first:stubborn", "waiting": true}));
    // circusd stops its watchers (the stubborn one takes its graceful_timeout), exits, and a
    // new one starts on the same ports.
    first.restart();
    let (reply, _) = request.join().expect("thread");
    let reply = reply.expect("an answer, not a client timeout");
    // circusd may still answer before it exits (refusing the stop when its own shutdown began
    // first); otherwise the master says what happened.
    if reply["status"] == "error" {
        let why = reason(&reply);
        assert!(why.contains("node first") || why.contains("arbiter is already running arbiter_stop"), "{reply}");
    }
    second_is_served(&master);
    master.wait_node_state("first", "alive");
    let reply = master.call("numprocesses", json!({"name": "first:stubborn"}));
    assert_eq!(reply["numprocesses"], 1, "the new circusd runs its watchers: {reply}");
}

#[test]
fn a_frozen_node_goes_down_and_comes_back() {
    let (first, _second, master) = cluster(3);
    let pid = first.pid().expect("running");
    let frozen = Instant::now();
    let _resumed_on_drop = procs::freeze(pid);
    let request = in_flight(&master, "stop", json!({"name": "first:stubborn", "waiting": true}));
    // A client that gives up and closes its socket: its reply cannot be delivered.
    let quitter = master.client(Duration::from_secs(1));
    quitter.send_raw(br#"{"command": "status", "properties": {"name": "first:dummy"}, "id": "q"}"#).expect("send");
    std::thread::sleep(Duration::from_millis(300));
    drop(quitter);

    for _ in 0..3 {
        second_is_served(&master);
    }
    master.wait_node_state("first", "down");
    // The frozen node's connection stays open: the waiting request fails when it goes down,
    // not after waiting_timeout (30 s).
    let (reply, answered) = request.join().expect("thread");
    let reply = reply.expect("an answer");
    assert_eq!(reply["status"], "error", "{reply}");
    assert!(reason(&reply).contains("node first stopped answering"), "{reply}");
    assert!(answered.duration_since(frozen) < Duration::from_secs(15), "{reply}");
    second_is_served(&master);
    let dropped = wait_for("the undeliverable reply to be counted", || {
        let requests = master.call("dstats", json!({}))["requests"].clone();
        match requests["dropped"].as_u64() {
            Some(n) if n >= 1 => Ok(n),
            _ => Err(requests.to_string()),
        }
    });
    assert!(dropped >= 1);
    assert!(master.stderr().contains("reply dropped"), "the drop is logged");

    procs::signal(pid, libc::SIGCONT);
    master.wait_node_state("first", "alive");
    let reply = master.call("status", json!({"name": "first:dummy"}));
    assert_eq!(reply["status"], "active", "{reply}");
}
