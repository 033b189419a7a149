//! Issue 14: failover of `failover` copies (kill -9, SIGSTOP/SIGCONT with conciliation), the
//! partition guard (three of four nodes frozen) and a master killed between placement and
//! failover, against real circusd nodes with a short `failover_grace`.

use cluster_e2e::master::{node_section, CLUSTER_SECTION};
use cluster_e2e::procs;
use cluster_e2e::stream::Stream;
use cluster_e2e::{json, ok, wait_for, CircusNode, Master, Value};

use crate::placement::place;

const GRACE: &str = "failover_grace = \"2s\"\n";

/// `count` nodes `node1`... with watcher `dummy`, behind a master with a 2 s failover grace.
fn cluster(count: usize) -> (Vec<CircusNode>, Master) {
    let nodes: Vec<CircusNode> = (1..=count).map(|i| CircusNode::start(&format!("node{i}"), &[("dummy", 1)])).collect();
    let mut config = format!("{CLUSTER_SECTION}{GRACE}");
    for node in &nodes {
        config.push_str(&node_section(node));
    }
    (nodes, Master::start_with_config(&config))
}

/// circusd frozen with SIGSTOP; thawed with SIGCONT when dropped, so that it can be stopped.
struct Frozen(u32);

impl Frozen {
    fn freeze(node: &CircusNode) -> Frozen {
        let pid = node.pid().expect("circusd runs");
        procs::signal(pid, libc::SIGSTOP);
        Frozen(pid)
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        procs::signal(self.0, libc::SIGCONT);
    }
}

fn placement(master: &Master, name: &str) -> Value {
    let listed = master.call("placements", json!({}));
    let list = listed["placements"].as_array().unwrap_or_else(|| panic!("{listed}"));
    list.iter().find(|p| p["name"] == name).cloned().unwrap_or_else(|| panic!("{name} not placed: {listed}"))
}

fn runs(node: &CircusNode, watcher: &str) -> bool {
    node.watcher_names().iter().any(|w| w == watcher)
}

fn node<'a>(nodes: &'a [CircusNode], name: &Value) -> &'a CircusNode {
    nodes.iter().find(|n| n.name == *name).unwrap_or_else(|| panic!("no node {name}"))
}

#[test]
fn a_killed_node_s_copy_fails_over_even_after_a_master_restart() {
    let (mut nodes, mut master) = cluster(3);
    let placed = ok(place(&master, json!({"name": "web", "cmd": "sleep 3600", "start": true, "failover": true})));
    let from = placed["node"].as_str().unwrap().to_string();
    // The master dies between placement and failover: the placement is in the state file.
    master.kill9();
    master.restart();
    master.wait_all_alive(&nodes.iter().map(|n| n.name.clone()).collect::<Vec<_>>());
    nodes.iter_mut().find(|n| n.name == from).unwrap().kill9();
    let to = wait_for("web to fail over", || {
        let entry = placement(&master, "web");
        match entry["nodes"].as_array().map(Vec::as_slice) {
            Some([to]) if *to != from => Ok(to.clone()),
            _ => Err(entry.to_string()),
        }
    });
    let to = node(&nodes, &to);
    wait_for("web to run on its new node", || if runs(to, "web") { Ok(()) } else { Err(to.name.clone()) });
    assert!(placement(&master, "web")["epoch"].as_u64().unwrap() > placed["epoch"].as_u64().unwrap());
}

#[test]
fn a_frozen_node_fails_over_then_is_conciliated_to_one_copy() {
    let (nodes, master) = cluster(3);
    let events = Stream::subscribe(&master.pubsub_endpoint, &["cluster."]);
    let placed = ok(place(&master, json!({"name": "web", "cmd": "sleep 3600", "start": true, "failover": true})));
    let from = node(&nodes, &placed["node"]);
    let frozen = Frozen::freeze(from);
    let moved = events.wait_for("cluster.*.failed_over", |m| m.topic.ends_with(".failed_over"));
    assert_eq!(moved.payload["watcher"], "web", "{moved:?}");
    assert_eq!(moved.payload["from"], from.name.as_str(), "{moved:?}");
    let to = node(&nodes, &moved.payload["node"]);
    wait_for("web on its new node", || if runs(to, "web") { Ok(()) } else { Err(to.name.clone()) });
    drop(frozen);
    let conciliated = events.wait_for("cluster.*.conciliated", |m| m.topic.ends_with(".conciliated"));
    assert_eq!(conciliated.topic, format!("cluster.{}.conciliated", from.name), "{conciliated:?}");
    let copies: Vec<&str> = nodes.iter().filter(|n| runs(n, "web")).map(|n| n.name.as_str()).collect();
    assert_eq!(copies, [to.name.as_str()], "exactly one copy, on the newest assignment");
    let entry = placement(&master, "web");
    assert_eq!(entry["nodes"], json!([to.name]), "{entry}");
    assert_eq!(entry["superseded"], json!({}), "{entry}");
}

#[test]
fn three_of_four_frozen_hold_failover_and_say_why() {
    let (nodes, master) = cluster(4);
    let events = Stream::subscribe(&master.pubsub_endpoint, &["cluster."]);
    let placed = ok(place(&master, json!({"name": "web", "cmd": "sleep 3600", "start": true, "failover": true})));
    let holder = node(&nodes, &placed["node"]);
    let others: Vec<&CircusNode> = nodes.iter().filter(|n| n.name != holder.name).collect();
    let (spared, frozen_too) = (others[0], &others[1..]);
    let frozen: Vec<Frozen> = std::iter::once(holder).chain(frozen_too.iter().copied()).map(Frozen::freeze).collect();
    let held = events.wait_for("cluster.*.failover_held", |m| m.topic.ends_with(".failover_held"));
    assert_eq!(held.topic, format!("cluster.{}.failover_held", holder.name), "{held:?}");
    let reason = held.payload["reason"].as_str().unwrap_or_default().to_string();
    assert!(reason.contains("partition guard: 3 of 4 nodes"), "{held:?}");
    let entry = placement(&master, "web");
    assert!(entry["held"].as_str().is_some_and(|h| h.contains("partition guard")), "{entry}");
    assert_eq!(entry["nodes"], json!([holder.name]), "{entry}");
    assert!(!runs(spared, "web"), "failed over onto the one node left");
    assert!(master.stderr().contains("failover held"), "the guard is logged");
    drop(frozen);
    wait_for("the hold to clear once the nodes are back", || {
        let entry = placement(&master, "web");
        if entry["held"].is_null() {
            Ok(())
        } else {
            Err(entry.to_string())
        }
    });
    assert!(runs(holder, "web") && !runs(spared, "web"));
}
