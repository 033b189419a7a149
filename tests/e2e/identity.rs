//! Issue 12: one identity per circusd. The same circusd registered twice (under another name,
//! or with `localhost` for `127.0.0.1`) is refused naming the existing entry; a discovered node
//! registered under a friendly name shows once; names differing only in case are refused.

use cluster_e2e::master::CLUSTER_SECTION;
use cluster_e2e::{json, ok, wait_for, CircusNode, Cluster, Master, Value};

fn register(master: &Master, name: &str, endpoint: &str, node: &CircusNode) -> Value {
    master.call("register_node", json!({"name": name, "endpoint": endpoint, "stats_endpoint": node.stats_endpoint}))
}

/// Every entry of `nodes` whose command endpoint is on `node`'s port.
fn entries_of(master: &Master, node: &CircusNode) -> Vec<Value> {
    let port = node.endpoint.rsplit(':').next().expect("port").to_string();
    let reply = master.call("nodes", json!({}));
    let nodes = reply["nodes"].as_array().cloned().unwrap_or_default();
    nodes.into_iter().filter(|n| n["endpoint"].as_str().is_some_and(|e| e.ends_with(&format!(":{port}")))).collect()
}

#[test]
fn the_same_circusd_twice_is_refused_naming_the_entry() {
    let c = Cluster::start();
    let before = ok(c.master.call("numprocesses", json!({})))["numprocesses"].clone();
    let localhost = c.second.endpoint.replace("127.0.0.1", "localhost");
    for (name, endpoint) in [("dup", c.second.endpoint.as_str()), ("dup", localhost.as_str())] {
        let reply = register(&c.master, name, endpoint, &c.second);
        assert_eq!(reply["errno"], 3, "{reply}");
        let reason = reply["reason"].as_str().unwrap_or_default();
        assert!(reason.contains("is already node 'second'") && reason.contains(&c.second.endpoint), "{reply}");
    }
    // Nothing counted twice.
    assert_eq!(ok(c.master.call("numprocesses", json!({})))["numprocesses"], before);
    assert_eq!(entries_of(&c.master, &c.second).len(), 1);

    // The same name again is idempotent.
    let reply = ok(register(&c.master, "second", &localhost, &c.second));
    assert_eq!(reply["replaced"], true, "{reply}");

    // A name differing only in case is refused, even for another circusd.
    let third = CircusNode::start("third", &[("dummy3", 1)]);
    let reply = register(&c.master, "First", &third.endpoint, &third);
    assert_eq!(reply["errno"], 3, "{reply}");
    assert!(reply["reason"].as_str().unwrap_or_default().contains("differs only in case from node 'first'"), "{reply}");
    ok(register(&c.master, "third", &third.endpoint, &third));
}

#[test]
fn a_discovered_node_registered_under_a_friendly_name_shows_once() {
    let node = CircusNode::start("plain", &[("dummy", 1)]);
    let text = format!("{CLUSTER_SECTION}discover = [\"{}\"]\ndiscover_interval = \"1s\"\n", node.endpoint);
    let master = Master::start_unsettled(&text);
    let address_name = format!("127-0-0-1-{}", node.endpoint.rsplit(':').next().expect("port"));
    master.wait_alive(&address_name);

    let reply = ok(register(&master, "friendly", &node.endpoint, &node));
    assert_eq!(reply["renamed_from"], address_name, "{reply}");
    // Later discovery rounds find the circusd again and leave it alone.
    let rounds = master.stderr().matches("discovery round").count();
    wait_for("two more discovery rounds", || {
        let done = master.stderr().matches("discovery round").count();
        if done >= rounds + 2 {
            Ok(())
        } else {
            Err(format!("{done} rounds"))
        }
    });
    let entries = entries_of(&master, &node);
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["name"], "friendly");
    assert_eq!(entries[0]["source"], "registered");
    assert_eq!(entries[0]["same_circusd_as"], json!([]));
    let list = ok(master.call("list", json!({})));
    assert!(list["watchers"].as_array().is_some_and(|w| w.contains(&json!("friendly:dummy"))), "{list}");
}

#[test]
fn one_circusd_behind_two_addresses_is_reported_by_the_probes() {
    let node = CircusNode::start("twice", &[("dummy", 1)]);
    let master = Master::start(&[&node]);
    // `127.1` is 127.0.0.1 to the resolver but not the same text: only the pid tells.
    let other_form = node.endpoint.replace("127.0.0.1", "127.1");
    ok(register(&master, "alias", &other_form, &node));
    master.wait_alive("alias");
    wait_for("both entries to report each other", || {
        let twice = master.node_entry("twice").unwrap_or_default();
        let alias = master.node_entry("alias").unwrap_or_default();
        if twice["same_circusd_as"] == json!(["alias"]) && alias["same_circusd_as"] == json!(["twice"]) {
            Ok(())
        } else {
            Err(format!("{twice} / {alias}"))
        }
    });
    master.wait_log("two entries reach the same circusd");
}

#[test]
fn a_reloaded_config_names_a_discovered_node_and_refuses_a_registered_one() {
    let found = CircusNode::start("found", &[("dummy", 1)]);
    let registered = CircusNode::start("registered", &[("dummy", 1)]);
    let text = format!("{CLUSTER_SECTION}discover = [\"{}\"]\ndiscover_interval = \"1s\"\n", found.endpoint);
    let master = Master::start_unsettled(&text);
    let address_name = format!("127-0-0-1-{}", found.endpoint.rsplit(':').next().expect("port"));
    master.wait_alive(&address_name);
    ok(register(&master, "reg", &registered.endpoint, &registered));

    let mut config = std::fs::read_to_string(&master.config).expect("read the config");
    for (name, node) in [("friendly", &found), ("again", &registered)] {
        config.push_str(&format!(
            "\n[node.{name}]\nendpoint = \"{}\"\nstats_endpoint = \"{}\"\n",
            node.endpoint, node.stats_endpoint
        ));
    }
    std::fs::write(&master.config, config).expect("edit the config");
    let report = ok(master.call("reloadconfig", json!({})));
    assert_eq!(report["added"], json!(["friendly"]), "{report}");
    assert!(report["refused"]["again"].as_str().unwrap_or_default().contains("is already node 'reg'"), "{report}");
    let entries = entries_of(&master, &found);
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["name"], "friendly");
    assert_eq!(entries_of(&master, &registered).len(), 1);
}
