//! The node registry: `nodes`, `nodelist`, `register_node` (idempotent: a second registration
//! replaces the first) and `unregister_node`.

use cluster_e2e::cli::{circusctl, clusterctl};
use cluster_e2e::{json, ok, wait_for, CircusNode, Cluster, Master, Value};

fn register(master: &Master, name: &str, node: &CircusNode) -> Value {
    master.call(
        "register_node",
        json!({
            "name": name,
            "endpoint": node.endpoint,
            "stats_endpoint": node.stats_endpoint,
            "pubsub_endpoint": node.pubsub_endpoint,
        }),
    )
}

fn listed(master: &Master) -> Vec<String> {
    let reply = master.call("list", json!({}));
    let watchers = reply["watchers"].as_array().unwrap_or_else(|| panic!("list: {reply}"));
    watchers.iter().filter_map(|w| w.as_str().map(String::from)).collect()
}

#[test]
fn nodes_and_nodelist_describe_the_config_nodes() {
    let c = Cluster::start();
    for node in [&c.first, &c.second] {
        c.master.wait_node_state(&node.name, "alive");
        let entry = c.master.node_entry(&node.name).expect("listed");
        assert_eq!(entry["endpoint"], node.endpoint.as_str(), "{entry}");
        assert_eq!(entry["pubsub_endpoint"], node.pubsub_endpoint.as_str(), "{entry}");
        assert_eq!(entry["stats_endpoint"], node.stats_endpoint.as_str(), "{entry}");
        assert_eq!(entry["source"], "config", "{entry}");
    }
    let reply = c.master.call("nodes", json!({}));
    assert_eq!(reply["nodes"].as_array().map(Vec::len), Some(2), "{reply}");

    // The 2012 format: {"nodelist": {name: endpoint}}.
    let reply = ok(c.master.call("nodelist", json!({})));
    assert_eq!(reply["nodelist"]["first"], c.first.endpoint.as_str(), "{reply}");
    assert_eq!(reply["nodelist"]["second"], c.second.endpoint.as_str(), "{reply}");
}

#[test]
fn register_then_unregister_a_node() {
    let first = CircusNode::start("first", &[("dummy", 1)]);
    let second = CircusNode::start("second", &[("dummy2", 2)]);
    let master = Master::start(&[&first]);
    assert_eq!(circusctl(&master.endpoint, &["status", "second:dummy2"]).code, 3, "not registered yet");

    let reply = register(&master, "second", &second);
    assert_eq!(reply["status"], "ok", "{reply}");
    let entry = master.node_entry("second").expect("registered node listed");
    assert_eq!(entry["source"], "registered", "{entry}");
    assert_eq!(entry["endpoint"], second.endpoint.as_str(), "{entry}");
    master.wait_node_state("second", "alive");
    assert_eq!(circusctl(&master.endpoint, &["status", "second:dummy2"]).ok().trim(), "active");
    assert!(listed(&master).contains(&"second:dummy2".to_string()));

    // Registering the same name again is not an error: it replaces the entry.
    let again = register(&master, "second", &second);
    assert_eq!(again["status"], "ok", "{again}");
    let text = again.to_string();
    assert!(text.contains("replaced"), "a re-registration says it replaced the node: {again}");
    assert!(!text.contains("already registered"), "{again}");
    assert_eq!(master.call("nodes", json!({}))["nodes"].as_array().map(Vec::len), Some(2));

    let reply = master.call("unregister_node", json!({"name": "second"}));
    assert_eq!(reply["status"], "ok", "{reply}");
    assert!(master.node_entry("second").is_none(), "unregistered node still listed");
    let reply = master.call("status", json!({"name": "second:dummy2"}));
    assert_eq!(reply["status"], "error", "{reply}");
    assert!(!listed(&master).iter().any(|w| w.starts_with("second:")));
    // The node itself is untouched.
    assert_eq!(second.numprocesses("dummy2"), 2);
}

#[test]
fn re_registering_a_name_moves_it_to_the_new_endpoints() {
    let old = CircusNode::start("old", &[("w_old", 1)]);
    let new = CircusNode::start("new", &[("w_new", 1)]);
    // No static entry for `old`: one circusd may be only one entry (issue 12).
    let master = Master::start(&[]);
    ok(register(&master, "extra", &old));
    master.wait_node_state("extra", "alive");
    assert!(listed(&master).contains(&"extra:w_old".to_string()));

    ok(register(&master, "extra", &new));
    let entry = master.node_entry("extra").expect("listed");
    assert_eq!(entry["endpoint"], new.endpoint.as_str(), "{entry}");
    wait_for("extra to route to the new node", || {
        let names = listed(&master);
        if names.contains(&"extra:w_new".to_string()) && !names.contains(&"extra:w_old".to_string()) {
            Ok(())
        } else {
            Err(format!("{names:?}"))
        }
    });
}

#[test]
fn register_refuses_bad_names_and_endpoints() {
    let first = CircusNode::start("first", &[("dummy", 1)]);
    let master = Master::start(&[&first]);
    for name in ["a.b", "a:b", ""] {
        let reply = master.call(
            "register_node",
            json!({"name": name, "endpoint": first.endpoint, "stats_endpoint": first.stats_endpoint}),
        );
        assert_eq!(reply["status"], "error", "name {name:?}: {reply}");
        assert_eq!(reply["errno"], 3, "name {name:?}: {reply}");
    }
    let reply = master
        .call("register_node", json!({"name": "x", "endpoint": "nowhere", "stats_endpoint": first.stats_endpoint}));
    assert_eq!(reply["errno"], 3, "{reply}");
    let reply =
        master.call("register_node", json!({"endpoint": first.endpoint, "stats_endpoint": first.stats_endpoint}));
    assert_eq!(reply["errno"], 3, "missing name: {reply}");
    assert_eq!(master.call("nodes", json!({}))["nodes"].as_array().map(Vec::len), Some(1));
}

#[test]
fn clusterctl_registers_and_unregisters() {
    let first = CircusNode::start("first", &[("dummy", 1)]);
    let second = CircusNode::start("second", &[("dummy2", 1)]);
    let master = Master::start(&[&first]);
    let ep = master.endpoint.as_str();
    let args = [
        "--endpoint",
        ep,
        "register_node",
        "second",
        &second.endpoint,
        &second.stats_endpoint,
        &second.pubsub_endpoint,
    ];
    clusterctl(&args).ok();
    let entry = master.node_entry("second").expect("registered");
    assert_eq!(entry["pubsub_endpoint"], second.pubsub_endpoint.as_str(), "{entry}");
    master.wait_node_state("second", "alive");
    assert_eq!(clusterctl(&["--endpoint", ep, "--node", "second", "status", "dummy2"]).ok().trim(), "active");
    // Again: idempotent.
    clusterctl(&args).ok();

    clusterctl(&["--endpoint", ep, "unregister_node", "second"]).ok();
    assert!(master.node_entry("second").is_none());
    let nodes = clusterctl(&["--endpoint", ep, "--json", "nodes"]).json();
    assert_eq!(nodes["nodes"].as_array().map(Vec::len), Some(1), "{nodes}");
}

#[test]
fn the_master_refuses_itself_as_a_node() {
    let c = Cluster::start();
    // A node whose stats endpoint is the master's own merged stream would loop it forever.
    let reply = c.master.call(
        "register_node",
        json!({"name": "loop", "endpoint": c.first.endpoint, "stats_endpoint": c.master.stats_endpoint}),
    );
    assert_eq!(reply["status"], "error", "{reply}");
    assert_eq!(reply["errno"], 3, "{reply}");
    assert!(reply["reason"].as_str().unwrap_or_default().contains("master's own stats_endpoint"), "{reply}");
    let reply = c.master.call(
        "register_node",
        json!({"name": "loop", "endpoint": c.master.endpoint, "stats_endpoint": c.first.stats_endpoint}),
    );
    assert_eq!(reply["status"], "error", "{reply}");
    assert!(c.master.node_entry("loop").is_none(), "nothing was registered");
}
