//! The command endpoint's shortcut (a request for one node forwarded by the nodes' thread
//! itself) against real circusd: which requests take it (`dstats` `requests.shortcut`), and that
//! they get the replies the full path gives.

use std::time::{Duration, Instant};

use cluster_e2e::master::{node_section, CLUSTER_SECTION};
use cluster_e2e::{must_call, procs, CircusNode, Cluster, Master};
use serde_json::{json, Value};

fn shortcut_count(c: &Cluster) -> u64 {
    let dstats = must_call(c.ep(), "dstats", json!({}));
    dstats["requests"]["shortcut"].as_u64().unwrap_or_else(|| panic!("no requests.shortcut in {dstats}"))
}

#[test]
fn requests_for_one_node_take_the_shortcut_and_the_others_do_not() {
    let c = Cluster::start();
    let before = shortcut_count(&c);

    // A qualified name: the echoed name is re-prefixed, as the full path does.
    let reply = must_call(c.ep(), "numprocesses", json!({"name": "first:dummy"}));
    assert_eq!(reply["numprocesses"], 1, "{reply}");
    assert_eq!(reply["watcher_name"], "first:dummy", "{reply}");
    // `properties.node`: the node's own reply, with the client's id.
    let reply = must_call(c.ep(), "list", json!({"node": "second"}));
    assert!(reply["watchers"].as_array().is_some_and(|w| w.contains(&json!("dummy2"))), "{reply}");
    // circusd's own error is relayed unchanged.
    let reply = must_call(c.ep(), "numprocesses", json!({"name": "first:nope"}));
    assert_eq!(reply["status"], "error", "{reply}");
    assert_eq!(reply["reason"], "program nope not found", "{reply}");
    let after = shortcut_count(&c);
    assert_eq!(after - before, 3, "three requests for one node each");

    // Fan-out, a node set, a name looked up on every node, the master's own commands, a bad
    // type: the loop's, with their usual replies.
    let status = must_call(c.ep(), "status", json!({}));
    assert_eq!(status["statuses"]["first:dummy"], "active", "{status}");
    let set = must_call(c.ep(), "list", json!({"node": "first,second"}));
    assert!(set["replies"].as_object().is_some_and(|r| r.len() == 2), "{set}");
    let looked_up = must_call(c.ep(), "numprocesses", json!({"name": "dummy2"}));
    assert_eq!(looked_up["numprocesses"], 2, "{looked_up}");
    let nodes = must_call(c.ep(), "nodes", json!({}));
    assert_eq!(nodes["status"], "ok", "{nodes}");
    let bad = must_call(c.ep(), "list", json!({"node": "first", "waiting": "yes"}));
    assert_eq!(bad["reason"], Value::from("'waiting' must be a boolean, got a string"), "{bad}");
    let unknown = must_call(c.ep(), "list", json!({"node": "zzz"}));
    assert!(unknown["reason"].as_str().is_some_and(|r| r.starts_with("unknown node 'zzz'")), "{unknown}");
    assert_eq!(shortcut_count(&c), after, "none of these took the shortcut");
}

/// The in-flight limit of one client counts the shortcut's requests and the loop's alike: 200
/// held by the shortcut and 56 by the loop fill a client's 256, and its next request is refused
/// whichever path it would take, while another client is still served.
#[test]
fn the_limit_per_client_counts_both_paths() {
    let first = CircusNode::start("first", &[("dummy", 1)]);
    let second = CircusNode::start("second", &[("dummy2", 1)]);
    // Slow probes and a long node_timeout: the frozen node's requests stay in flight meanwhile.
    let cluster = CLUSTER_SECTION.replace("heartbeat = \"1s\"", "heartbeat = \"5s\"").replace("\"4s\"", "\"60s\"");
    let master = Master::start_with_config(&format!("{cluster}{}{}", node_section(&first), node_section(&second)));
    master.wait_node_state("first", "alive");
    let pid = first.pid().expect("running");
    let _resumed_on_drop = procs::freeze(pid);

    let flood = master.client(Duration::from_secs(30));
    let send = |properties: Value, id: String| {
        let request = json!({"command": "numprocesses", "properties": properties, "id": id});
        flood.send_raw(request.to_string().as_bytes()).expect("send");
    };
    for i in 0..200 {
        send(json!({"name": "first:dummy"}), format!("shortcut-{i}"));
    }
    for i in 0..56 {
        send(json!({"name": "dummy", "node": "first,second"}), format!("loop-{i}"));
    }
    master.wait_in_flight(256);
    let requests = master.call("dstats", json!({}))["requests"].clone();
    assert_eq!(requests["busy"], 0, "{requests}");

    for (id, properties) in [
        ("over-shortcut", json!({"name": "first:dummy"})),
        ("over-loop", json!({"name": "dummy", "node": "first,second"})),
    ] {
        send(properties, id.to_string());
        let reply: Value =
            serde_json::from_slice(&flood.recv_raw(Instant::now() + Duration::from_secs(10)).expect("refused at once"))
                .expect("json");
        assert_eq!(reply["id"], id, "the refusal comes first: {reply}");
        assert_eq!(
            reply["reason"], "master busy: too many requests in flight from this client, wait for replies",
            "{reply}"
        );
    }
    let reply = master.call("status", json!({"name": "second:dummy2"}));
    assert_eq!(reply["status"], "active", "another client is served: {reply}");
}
