//! Liveness: a killed node goes `down` within about 3 heartbeats and comes back `alive` as a
//! restarted node (new circusd pid, `cluster.<node>.restarted`); registered nodes that stay
//! down are forgotten; `max_probes_per_sec` stretches the probe interval.

use std::time::{Duration, Instant};

use cluster_e2e::master::{node_section, CLUSTER_SECTION};
use cluster_e2e::stream::Stream;
use cluster_e2e::{json, ok, wait_for, CircusNode, Cluster, Master};

#[test]
fn a_killed_node_is_down_within_three_heartbeats_and_comes_back_restarted() {
    let mut c = Cluster::start();
    let events = Stream::subscribe(&c.master.pubsub_endpoint, &["cluster.second."]);
    let old_pid = c.second.pid().expect("running");
    c.master.wait_node_state("second", "alive");
    wait_for("second's circusd pid in nodes", || match c.master.node_entry("second") {
        Some(entry) if entry["circusd_pid"] == old_pid => Ok(()),
        other => Err(format!("{other:?}")),
    });

    let killed = Instant::now();
    c.second.kill9();
    c.master.wait_node_state("second", "down");
    let took = killed.elapsed();
    // heartbeat 1 s, down_after 3; generous for a loaded machine, far below anything slow.
    assert!(took < Duration::from_secs(6), "down after {took:?}");

    c.second.restart();
    let new_pid = c.second.pid().expect("running");
    let restarted = events.wait_for("cluster.second.restarted", |m| m.topic == "cluster.second.restarted");
    assert_eq!(restarted.payload["old_pid"], old_pid, "{:?}", restarted.payload);
    assert_eq!(restarted.payload["new_pid"], new_pid, "{:?}", restarted.payload);
    c.master.wait_node_state("second", "alive");
    assert_eq!(c.master.node_entry("second").expect("second")["circusd_pid"], new_pid);
}

#[test]
fn a_registered_node_that_stays_down_is_forgotten() {
    let first = CircusNode::start("first", &[("dummy", 1)]);
    let mut gone = CircusNode::start("gone", &[("dummy", 1)]);
    let master =
        Master::start_with_config(&format!("{CLUSTER_SECTION}forget_after = \"2s\"\n{}", node_section(&first)));
    let events = Stream::subscribe(&master.pubsub_endpoint, &["cluster.gone."]);
    ok(master.call(
        "register_node",
        json!({"name": "gone", "endpoint": gone.endpoint, "stats_endpoint": gone.stats_endpoint}),
    ));
    master.wait_node_state("gone", "alive");
    gone.kill9();
    events.wait_for("cluster.gone.forgotten", |m| m.topic == "cluster.gone.forgotten");
    assert!(master.node_entry("gone").is_none(), "forgotten nodes leave the registry");
    // Configured nodes are never forgotten.
    assert_eq!(master.node_entry("first").expect("first")["state"], "alive");
}

#[test]
fn max_probes_per_sec_stretches_the_probe_interval() {
    let nodes: Vec<CircusNode> = ["a", "b", "c"].iter().map(|n| CircusNode::start(n, &[("dummy", 1)])).collect();
    let mut config = format!("{CLUSTER_SECTION}max_probes_per_sec = 1\n");
    for node in &nodes {
        config.push_str(&node_section(node));
    }
    let master = Master::start_unsettled(&config);
    let reply = master.call("nodes", json!({}));
    // Three nodes at one probe a second: each is probed every 3 s instead of every heartbeat.
    assert_eq!(reply["probe_interval"], 3.0, "{reply}");
    for node in &nodes {
        master.wait_node_state(&node.name, "alive");
    }
}
