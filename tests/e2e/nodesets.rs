//! Node-set expressions through the master (`properties.node`, qualified names, `nodeset`):
//! globs, ranges, tags and exclusions select the right nodes, replies are gathered per node,
//! and a dead node shows as failed without delaying the others.

use std::time::{Duration, Instant};

use cluster_e2e::cluster::{tagged_trio, tagged_trio_keyed, STRICT_READS};
use cluster_e2e::{json, ok, Master, Value};

fn resolved(master: &Master, expr: &str) -> Value {
    master.call("nodeset", json!({"expr": expr}))
}

#[test]
fn expressions_select_the_right_nodes() {
    let (_nodes, master) = tagged_trio();
    let cases = [
        ("node1", json!(["node1"])),
        ("node1,node3", json!(["node1", "node3"])),
        ("node*", json!(["node1", "node2", "node3"])),
        ("node[2-3]", json!(["node2", "node3"])),
        ("@eu", json!(["node1", "node2"])),
        ("@eu!@canary", json!(["node1"])),
        ("all!node2", json!(["node1", "node3"])),
        ("all", json!(["node1", "node2", "node3"])),
    ];
    for (expr, expected) in cases {
        let reply = resolved(&master, expr);
        assert_eq!(reply["nodes"], expected, "{expr}: {reply}");
    }
    for bad in ["nothing*", "@nope", "node9", "node[", "all!all"] {
        let reply = resolved(&master, bad);
        assert_eq!(reply["status"], "error", "{bad}: {reply}");
        assert_eq!(reply["errno"], 3, "{bad}: {reply}");
    }
    let entry = master.node_entry("node2").expect("node2");
    assert_eq!(entry["tags"], json!(["eu", "canary"]), "{entry}");
}

#[test]
fn a_node_set_gathers_every_reply() {
    let (_nodes, master) = tagged_trio();
    let reply = ok(master.call("status", json!({"node": "@eu", "name": "dummy"})));
    let replies = reply["replies"].as_object().unwrap_or_else(|| panic!("no replies: {reply}"));
    assert_eq!(replies.keys().collect::<Vec<_>>(), ["node1", "node2"], "{reply}");
    for (node, answer) in replies {
        assert_eq!(answer["status"], "active", "{node}: {answer}");
        assert!(answer.get("id").is_none(), "upstream ids are not leaked: {answer}");
    }
    // The same through a qualified name, as stock clients write it.
    let reply = ok(master.call("numprocesses", json!({"name": "all!node1:dummy"})));
    let replies = reply["replies"].as_object().expect("replies");
    assert_eq!(replies.keys().collect::<Vec<_>>(), ["node2", "node3"], "{reply}");
    assert!(replies.values().all(|r| r["numprocesses"] == 1), "{reply}");
    // A plain name still relays the node's own reply.
    let reply = master.call("status", json!({"node": "node3", "name": "dummy"}));
    assert_eq!(reply["status"], "active", "{reply}");
    assert!(reply.get("replies").is_none(), "{reply}");
    // An expression that selects nothing is refused.
    let reply = master.call("status", json!({"node": "@nope"}));
    assert_eq!(reply["errno"], 3, "{reply}");
    assert!(reply["reason"].as_str().unwrap_or_default().contains("matches no node"), "{reply}");
}

#[test]
fn a_dead_node_fails_without_delaying_the_others() {
    // Strict merged reads: all or nothing (the default, partial, is tested below).
    let (mut nodes, master) = tagged_trio_keyed(STRICT_READS);
    nodes[1].kill9();
    let started = Instant::now();
    let reply = master.call("status", json!({"node": "all", "name": "dummy"}));
    let took = started.elapsed();
    assert_eq!(reply["status"], "error", "{reply}");
    assert_eq!(reply["errno"], 5, "{reply}");
    let reason = reply["reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with("1 of 3 nodes failed") && reason.contains("node2"), "{reply}");
    assert_eq!(reply["replies"]["node1"]["status"], "active", "{reply}");
    assert_eq!(reply["replies"]["node3"]["status"], "active", "{reply}");
    assert_eq!(reply["replies"]["node2"]["status"], "error", "{reply}");
    // Not the 4 s node timeout: a refused connection is known at once. Generous for noisy machines.
    assert!(took < Duration::from_secs(4), "{took:?}");
}

#[test]
fn a_dead_node_is_left_out_of_a_node_set_read_and_named() {
    let (mut nodes, master) = tagged_trio();
    nodes[1].kill9();
    let reply = ok(master.call("status", json!({"node": "all", "name": "dummy"})));
    let replies = reply["replies"].as_object().unwrap_or_else(|| panic!("no replies: {reply}"));
    assert_eq!(replies.keys().collect::<Vec<_>>(), ["node1", "node3"], "{reply}");
    assert!(replies.values().all(|r| r["status"] == "active"), "{reply}");
    let missing = &reply["missing"]["node2"];
    assert!(missing["reason"].as_str().unwrap_or_default().contains("node2"), "{reply}");
    assert!(["alive", "suspect", "down"].contains(&missing["state"].as_str().unwrap_or_default()), "{reply}");
    // A change over the set: the live nodes changed, the dead one failed, and the reply is ok
    // because a change happened (an error would invite a retry that doubles it).
    let reply = ok(master.call("incr", json!({"node": "all", "name": "dummy"})));
    assert_eq!(reply["changed"], json!(["node1", "node3"]), "{reply}");
    assert!(reply["failed"]["node2"].as_str().unwrap_or_default().contains("node2"), "{reply}");
    nodes[0].wait_numprocesses("dummy", 2);
    nodes[2].wait_numprocesses("dummy", 2);
}
