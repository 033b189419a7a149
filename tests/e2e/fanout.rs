//! Name-less commands through the master: fanned out to every node and merged
//! (circus-protocol.md §6.2), and the master-local commands.

use std::collections::BTreeMap;

use cluster_e2e::cli::circusctl;
use cluster_e2e::{ports, CircusNode, Cluster, Master};

#[test]
fn status_and_list_merge_every_node() {
    let c = Cluster::start();
    let expected = c.qualified_watchers();
    assert!(expected.contains(&"first:dummy".to_string()), "{expected:?}");
    assert!(expected.contains(&"second:dummy2".to_string()), "{expected:?}");

    let out = circusctl(c.ep(), &["status"]);
    let statuses: BTreeMap<String, String> = out
        .ok()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let (name, state) = line.rsplit_once(": ").unwrap_or_else(|| panic!("bad status line {line:?}"));
            (name.to_string(), state.to_string())
        })
        .collect();
    assert_eq!(statuses.keys().cloned().collect::<Vec<_>>(), expected);
    assert!(statuses.values().all(|s| s == "active"), "{statuses:?}");

    let out = circusctl(c.ep(), &["list"]);
    let mut listed: Vec<String> = out.ok().trim().split(',').map(String::from).collect();
    listed.sort();
    assert_eq!(listed, expected);
}

#[test]
fn counts_are_summed_over_the_nodes() {
    let c = Cluster::start();
    let watchers = |node: &CircusNode| node.call("numwatchers", cluster_e2e::json!({}))["numwatchers"].as_u64();
    let processes = |node: &CircusNode| node.call("numprocesses", cluster_e2e::json!({}))["numprocesses"].as_u64();
    let numwatchers = watchers(&c.first).unwrap() + watchers(&c.second).unwrap();
    let numprocesses = processes(&c.first).unwrap() + processes(&c.second).unwrap();
    assert_eq!(numwatchers, 4, "dummy, dummy2 and two circusd-stats");

    assert_eq!(circusctl(c.ep(), &["numwatchers"]).ok().trim(), numwatchers.to_string());
    assert_eq!(circusctl(c.ep(), &["numprocesses"]).ok().trim(), numprocesses.to_string());
    let reply = circusctl(c.ep(), &["--json", "numwatchers"]).json();
    assert_eq!(reply["numwatchers"], numwatchers, "{reply}");
}

#[test]
fn stats_of_every_node_are_merged() {
    let c = Cluster::start();
    let reply = circusctl(c.ep(), &["--json", "stats"]).json();
    let infos = reply["infos"].as_object().unwrap_or_else(|| panic!("no infos: {reply}"));
    for (node, watcher) in [(&c.first, "dummy"), (&c.second, "dummy2")] {
        let key = format!("{}:{watcher}", node.name);
        let info = infos.get(&key).and_then(|i| i.as_object()).unwrap_or_else(|| panic!("no {key}: {reply}"));
        let mut pids: Vec<u64> = info.keys().map(|k| k.parse().expect("pid keys")).collect();
        pids.sort_unstable();
        assert_eq!(pids, node.pids(watcher), "{key}");
    }
    // circusctl's console rendering needs `infos` in the right shape.
    let out = circusctl(c.ep(), &["stats"]);
    assert!(out.ok().lines().any(|l| l == "second:dummy2:"), "{out:?}");
}

#[test]
fn globaloptions_and_dstats_describe_the_master() {
    let first = CircusNode::start("first", &[("dummy", 1)]);
    let master = Master::start(&[&first]);
    let reply = circusctl(&master.endpoint, &["--json", "globaloptions"]).json();
    let options = &reply["options"];
    assert_eq!(options["endpoint"], master.endpoint.as_str(), "{reply}");
    assert_eq!(options["stats_endpoint"], master.stats_endpoint.as_str(), "{reply}");
    assert_eq!(options["pubsub_endpoint"], master.pubsub_endpoint.as_str(), "{reply}");
    assert!(options["check_delay"].is_f64(), "check_delay must be a float: {reply}");
    let out = circusctl(&master.endpoint, &["globaloptions"]);
    assert!(out.ok().contains(&format!("endpoint: {}", master.endpoint)), "{out:?}");

    let reply = circusctl(&master.endpoint, &["--json", "dstats"]).json();
    assert_eq!(reply["info"]["pid"], master.pid().expect("running"), "{reply}");
    // The console rendering needs every process-info field (it crashes on a missing one).
    let out = circusctl(&master.endpoint, &["dstats"]);
    let text = out.ok();
    assert!(text.starts_with("Main Process:"), "{text}");
    assert!(text.contains(&master.pid().expect("running").to_string()), "{text}");
}

#[test]
fn listsockets_qualifies_socket_names() {
    let port = ports::free_port();
    let socket = format!("\n[socket:web]\nhost = 127.0.0.1\nport = {port}\n");
    let first = CircusNode::start_with("first", &[("dummy", 1)], &socket);
    let second = CircusNode::start("second", &[("dummy2", 1)]);
    let master = Master::start(&[&first, &second]);

    let reply = circusctl(&master.endpoint, &["--json", "listsockets"]).json();
    let sockets = reply["sockets"].as_array().unwrap_or_else(|| panic!("no sockets: {reply}"));
    assert_eq!(sockets.len(), 1, "{reply}");
    assert_eq!(sockets[0]["name"], "first:web", "{reply}");
    assert_eq!(sockets[0]["port"], port, "port stays an int: {reply}");
    assert!(sockets[0]["fd"].is_u64(), "fd stays an int: {reply}");

    let out = circusctl(&master.endpoint, &["listsockets"]);
    let text = out.ok();
    assert!(text.contains("socket 'first:web' at 127.0.0.1:"), "{text}");
    assert!(text.contains(&port.to_string()), "{text}");
}
