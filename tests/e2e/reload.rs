//! Reloading the master's configuration: SIGHUP and `reloadconfig` sent to the master add,
//! change and remove static nodes without a restart; a bad new config is refused and the
//! running one stays in force.

use cluster_e2e::master::{node_section, CLUSTER_SECTION};
use cluster_e2e::{json, ok, wait_for, CircusNode, Master};

/// The master's config with `nodes`, on the endpoints it already runs on.
fn config_for(master: &Master, nodes: &[&CircusNode]) -> String {
    let mut text = CLUSTER_SECTION
        .replace("{endpoint}", &master.endpoint)
        .replace("{stats_endpoint}", &master.stats_endpoint)
        .replace("{pubsub_endpoint}", &master.pubsub_endpoint);
    for node in nodes {
        text.push_str(&node_section(node));
    }
    text
}

fn node_names(master: &Master) -> Vec<String> {
    let reply = master.call("nodes", json!({}));
    let nodes = reply["nodes"].as_array().cloned().unwrap_or_default();
    nodes.iter().filter_map(|n| n["name"].as_str().map(String::from)).collect()
}

#[test]
fn sighup_adds_and_removes_static_nodes() {
    let first = CircusNode::start("first", &[("dummy", 1)]);
    let second = CircusNode::start("second", &[("dummy2", 2)]);
    let master = Master::start(&[&first]);
    assert_eq!(node_names(&master), ["first"]);

    std::fs::write(&master.config, config_for(&master, &[&first, &second])).expect("edit the config");
    master.signal(libc::SIGHUP);
    master.wait_node_state("second", "alive");
    let reply = master.call("numprocesses", json!({"name": "second:dummy2"}));
    assert_eq!(reply["numprocesses"], 2, "{reply}");

    std::fs::write(&master.config, config_for(&master, &[&second])).expect("edit the config");
    master.signal(libc::SIGHUP);
    wait_for("first to be removed", || {
        let names = node_names(&master);
        if names == ["second"] {
            Ok(())
        } else {
            Err(format!("{names:?}"))
        }
    });
    let reply = master.call("status", json!({"name": "first:dummy"}));
    assert_eq!(reply["errno"], 3, "first is gone: {reply}");
}

#[test]
fn reloadconfig_reports_and_a_bad_config_changes_nothing() {
    let first = CircusNode::start("first", &[("dummy", 1)]);
    let second = CircusNode::start("second", &[("dummy2", 2)]);
    let master = Master::start(&[&first]);

    std::fs::write(&master.config, config_for(&master, &[&second])).expect("edit the config");
    let report = ok(master.call("reloadconfig", json!({})));
    assert_eq!(report["added"], json!(["second"]), "{report}");
    assert_eq!(report["removed"], json!(["first"]), "{report}");

    // A broken file: refused with the reason, nothing changes, and SIGHUP does not kill the master.
    std::fs::write(&master.config, "[cluster]\nnode_timeout = \"soon\"\n").expect("break the config");
    let reply = master.call("reloadconfig", json!({}));
    assert_eq!(reply["status"], "error", "{reply}");
    let reason = reply["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("cluster.node_timeout") && reason.contains("not reloaded"), "{reply}");
    master.signal(libc::SIGHUP);
    master.wait_log("the running configuration stays in force");
    assert_eq!(node_names(&master), ["second"]);
    master.wait_node_state("second", "alive");
}

#[test]
fn clusterctl_reloadconfig_prints_what_changed() {
    let first = CircusNode::start("first", &[("dummy", 1)]);
    let second = CircusNode::start("second", &[("dummy2", 2)]);
    let master = Master::start(&[&first]);
    let moved = config_for(&master, &[&second]).replace(&master.stats_endpoint, &cluster_e2e::ports::free_endpoint());
    std::fs::write(&master.config, moved).expect("edit the config");
    let run = cluster_e2e::cli::clusterctl(&["--endpoint", &master.endpoint, "reloadconfig"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "added: second\nchanged: -\nremoved: first\nneeds_restart: stats_endpoint\n", "{run:?}");
}

#[test]
fn a_reload_with_two_equal_endpoints_is_refused_naming_both_keys() {
    let first = CircusNode::start("first", &[("dummy", 1)]);
    let master = Master::start(&[&first]);
    let same = config_for(&master, &[&first]).replace(&master.pubsub_endpoint, &master.stats_endpoint);
    std::fs::write(&master.config, same).expect("edit the config");
    let reply = master.call("reloadconfig", json!({}));
    assert_eq!(reply["status"], "error", "{reply}");
    let reason = reply["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("cluster.pubsub_endpoint") && reason.contains("stats_endpoint and pubsub_endpoint"),
        "{reply}"
    );
    assert_eq!(node_names(&master), ["first"]);
}
