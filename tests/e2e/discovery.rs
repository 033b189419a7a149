//! Discovery of plain circusd nodes, which run nothing of ours: scans of loopback port ranges
//! (`discover = ["tcp://127.0.0.1:P1-P2"]`) and Circus's UDP discovery, answered here by a fake
//! unicast responder on loopback (circusd's own `multicast_endpoint` stays off in every test).

use cluster_e2e::cli::circusctl;
use cluster_e2e::master::{assert_entry, node_section, run_to_exit, write_file, CLUSTER_SECTION};
use cluster_e2e::udp::FakeResponder;
use cluster_e2e::{json, ports, wait_for, CircusNode, Master};

/// The port of a `tcp://host:port` endpoint.
fn port(endpoint: &str) -> u16 {
    endpoint.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("no port in {endpoint}"))
}

/// The name discovery gives a node reached at `tcp://127.0.0.1:PORT`.
fn discovered_name(node: &CircusNode) -> String {
    format!("127-0-0-1-{}", port(&node.endpoint))
}

/// Scan targets covering the nodes' command ports: one range from the lowest to the highest
/// when they are close (the ports in between, such as the nodes' stream ports, are probed too),
/// else one target per port.
fn scan_targets(nodes: &[&CircusNode]) -> Vec<String> {
    let ports: Vec<u16> = nodes.iter().map(|node| port(&node.endpoint)).collect();
    let (min, max) = (*ports.iter().min().expect("nodes"), *ports.iter().max().expect("nodes"));
    if max - min <= 16 {
        vec![format!("tcp://127.0.0.1:{min}-{max}")]
    } else {
        ports.iter().map(|p| format!("tcp://127.0.0.1:{p}")).collect()
    }
}

/// A master that discovers `targets` every second, with `extra` appended to its config.
fn discovering_master(targets: &[String], extra: &str) -> Master {
    let list: Vec<String> = targets.iter().map(|t| format!("\"{t}\"")).collect();
    let text = format!("{CLUSTER_SECTION}discover = [{}]\ndiscover_interval = \"1s\"\n{extra}", list.join(", "));
    Master::start_unsettled(&text)
}

/// Waits until the master's merged `list` holds `watcher`.
pub(crate) fn wait_listed(master: &Master, watcher: &str) {
    wait_for(&format!("{watcher} in list"), || {
        let reply = master.call("list", json!({}));
        let watchers = reply["watchers"].as_array().cloned().unwrap_or_default();
        if watchers.iter().any(|w| w == watcher) {
            Ok(())
        } else {
            Err(reply.to_string())
        }
    });
}

/// Every command endpoint in `nodes`.
pub(crate) fn node_endpoints(master: &Master) -> Vec<String> {
    let reply = master.call("nodes", json!({}));
    let nodes = reply["nodes"].as_array().cloned().unwrap_or_default();
    nodes.iter().filter_map(|n| n["endpoint"].as_str().map(String::from)).collect()
}

/// Discovery rounds the master has logged so far (it runs with `-v`).
pub(crate) fn rounds(master: &Master) -> usize {
    master.stderr().matches("discovery round").count()
}

/// Waits until the master has finished `n` more rounds than `after`.
pub(crate) fn wait_rounds(master: &Master, after: usize, n: usize) {
    wait_for(&format!("{n} more discovery rounds"), || {
        let done = rounds(master);
        if done >= after + n {
            Ok(())
        } else {
            Err(format!("{done} rounds"))
        }
    });
}

#[test]
fn a_scan_finds_plain_circusd_nodes() {
    let a = CircusNode::start("plain_a", &[("dummy", 1)]);
    let b = CircusNode::start("plain_b", &[("dummy", 1)]);
    // A port nothing listens on is probed too.
    let empty = ports::free_port();
    let mut targets = scan_targets(&[&a, &b]);
    targets.push(format!("tcp://127.0.0.1:{empty}"));
    let master = discovering_master(&targets, "");

    for node in [&a, &b] {
        let entry = master.wait_alive(&discovered_name(node));
        assert_entry(&entry, node, "discovered");
        wait_listed(&master, &format!("{}:dummy", discovered_name(node)));
    }
    // Stock circusctl reaches a discovered node through the master.
    let status = circusctl(&master.endpoint, &["status", &format!("{}:dummy", discovered_name(&a))]);
    assert_eq!(status.ok().trim(), "active");

    // The nodes' stream ports (PUB sockets, inside the range) and the empty port are no nodes.
    let endpoints = node_endpoints(&master);
    let empty = format!("tcp://127.0.0.1:{empty}");
    for not_a_node in [&a.stats_endpoint, &a.pubsub_endpoint, &b.stats_endpoint, &b.pubsub_endpoint, &empty] {
        assert!(!endpoints.contains(not_a_node), "{not_a_node} registered: {endpoints:?}");
    }
    let log = master.stderr();
    assert!(log.contains("discovered a node"), "{log}");
}

#[test]
fn a_udp_target_finds_the_node_its_responder_names() {
    let node = CircusNode::start("udp_node", &[("dummy", 1)]);
    let responder = FakeResponder::start(&node.endpoint);
    let master = discovering_master(&[format!("udp://127.0.0.1:{}", responder.port)], "");

    let entry = master.wait_alive(&discovered_name(&node));
    assert_entry(&entry, &node, "discovered");
    assert!(responder.queries() >= 1);
    wait_listed(&master, &format!("{}:dummy", discovered_name(&node)));
}

#[test]
fn a_udp_answer_from_another_socket_is_ignored() {
    let node = CircusNode::start("rogue", &[("dummy", 1)]);
    let forger = FakeResponder::forging(&node.endpoint);
    let master = discovering_master(&[format!("udp://127.0.0.1:{}", forger.port)], "");
    // Two whole rounds after the forged answers were sent: they were read and dropped.
    wait_for("a query to the forger", || if forger.queries() >= 1 { Ok(()) } else { Err("none".into()) });
    wait_rounds(&master, rounds(&master), 2);
    assert!(forger.queries() >= 2, "every round queried it");
    assert!(master.node_entry(&discovered_name(&node)).is_none(), "a forged answer registered a node");
    assert!(!node_endpoints(&master).contains(&node.endpoint), "{:?}", node_endpoints(&master));
}

#[test]
fn udp_discovery_with_a_secret_must_be_trusted_explicitly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!(
        "[cluster]\nendpoint = \"{}\"\nregister_secret = \"s3cret\"\ndiscover = [\"udp://127.0.0.1:{}\"]\n",
        ports::free_endpoint(),
        ports::free_port()
    );
    let out = run_to_exit(&write_file(dir.path(), "cluster.toml", &text));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for key in ["cluster.discover_trusted", "register_secret", "discover_trusted = true"] {
        assert!(stderr.contains(key), "{key} not named: {stderr}");
    }
    // Accepted explicitly: the master starts.
    let trusted = "register_secret = \"s3cret\"\ndiscover_trusted = true\n";
    let master = discovering_master(&[format!("udp://127.0.0.1:{}", ports::free_port())], trusted);
    assert_eq!(master.call("nodes", json!({}))["status"], "ok");
}

#[test]
fn known_nodes_and_the_master_itself_are_not_rediscovered() {
    let first = CircusNode::start("first", &[("dummy", 1)]);
    let plain = CircusNode::start("plain", &[("dummy", 1)]);
    let mut targets = scan_targets(&[&first, &plain]);
    // The master's own endpoints: skipped, never probed as nodes.
    targets.extend(["{endpoint}", "{stats_endpoint}", "{pubsub_endpoint}"].map(String::from));
    let master = discovering_master(&targets, &node_section(&first));

    let entry = master.wait_alive(&discovered_name(&plain));
    assert_entry(&entry, &plain, "discovered");
    let seen = rounds(&master);
    wait_rounds(&master, seen, 2);

    assert_eq!(master.node_entry("first").expect("config node")["source"], "config");
    assert!(master.node_entry(&discovered_name(&first)).is_none(), "a config node was discovered again");
    let endpoints = node_endpoints(&master);
    assert_eq!(endpoints.iter().filter(|e| **e == first.endpoint).count(), 1, "{endpoints:?}");
    assert_eq!(endpoints.iter().filter(|e| **e == plain.endpoint).count(), 1, "{endpoints:?}");
    for own in [&master.endpoint, &master.stats_endpoint, &master.pubsub_endpoint] {
        assert!(!endpoints.contains(own), "the master registered its own {own}: {endpoints:?}");
    }
}

#[test]
fn a_node_that_starts_later_is_found_by_a_later_round() {
    let mut late = CircusNode::start("late", &[("dummy", 1)]);
    late.stop();
    let master = discovering_master(&scan_targets(&[&late]), "");
    wait_rounds(&master, 0, 1);
    assert!(master.node_entry(&discovered_name(&late)).is_none(), "nothing listens yet");

    late.restart();
    let entry = master.wait_alive(&discovered_name(&late));
    assert_entry(&entry, &late, "discovered");
    wait_listed(&master, &format!("{}:dummy", discovered_name(&late)));
}
