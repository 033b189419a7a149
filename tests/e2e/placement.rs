//! Issue 14: placement of `add` without a node (measured load, constraint), dry runs,
//! replicas, the desired state (`placements`, `rm`, persistence) and drain, against three real
//! circusd nodes (`tagged_trio`: node1 and node2 tagged `eu`).

use cluster_e2e::cli::{circusctl_retry, clusterctl};
use cluster_e2e::cluster::tagged_trio;
use cluster_e2e::http::{dashboard_cluster, get};
use cluster_e2e::stream::Stream;
use cluster_e2e::{json, ok, retry_busy, wait_for, CircusNode, Master, Value};

/// A watcher that keeps one CPU busy.
const BURNER: &str = "sh -c 'while :; do :; done'";

/// `add` through the master, retried while circusd is busy with its own watchers.
pub fn place(master: &Master, properties: Value) -> Value {
    retry_busy(
        || master.call("add", properties.clone()),
        |reply| reply["reason"].as_str().is_some_and(cluster_e2e::busy_text),
    )
}

/// The dry-run score entry of `node`.
pub fn score_of(dry_run: &Value, node: &str) -> Value {
    let scores = dry_run["scores"].as_array().unwrap_or_else(|| panic!("no scores: {dry_run}"));
    scores.iter().find(|s| s["node"] == node).cloned().unwrap_or_else(|| panic!("{node} not scored: {dry_run}"))
}

/// The nodes running watcher `name`, asked of each node directly.
pub fn holders(nodes: &[CircusNode], name: &str) -> Vec<String> {
    nodes.iter().filter(|n| n.watcher_names().iter().any(|w| w == name)).map(|n| n.name.clone()).collect()
}

/// Waits until the master's view measures node1 busy (the burner's CPU reached its stats).
fn make_busy(nodes: &[CircusNode], master: &Master) {
    let added = place(master, json!({"name": "burner", "cmd": BURNER, "start": true, "node": "node1"}));
    ok(added);
    nodes[0].wait_numprocesses("burner", 1);
    wait_for("node1 measured busy", || {
        let dry = master.call("add", json!({"name": "probe", "cmd": "sleep 1", "dry_run": true}));
        let cpu = score_of(&dry, "node1")["cpu"].as_f64().unwrap_or(0.0);
        if cpu > 30.0 {
            Ok(())
        } else {
            Err(dry.to_string())
        }
    });
}

#[test]
fn placement_follows_measured_load_and_honours_the_constraint() {
    let (nodes, master) = tagged_trio();
    make_busy(&nodes, &master);
    // Stock circusctl, no node named: the master chooses, and never the busy node.
    circusctl_retry(&master.endpoint, &["add", "--start", "web", "sleep 3600"]).ok();
    for (i, name) in ["web2", "web3"].iter().enumerate() {
        let reply = ok(place(&master, json!({"name": name, "cmd": "sleep 3600", "start": true})));
        let node = reply["node"].as_str().unwrap_or_else(|| panic!("no node in {reply}"));
        assert_ne!(node, "node1", "the busy node got new work ({i}): {reply}");
        assert_eq!(holders(&nodes, name), [node]);
    }
    assert!(holders(&nodes, "web").iter().all(|n| n != "node1"), "{:?}", holders(&nodes, "web"));
    // The constraint wins over load: only node1 is allowed.
    let pinned = ok(place(&master, json!({"name": "pinned", "cmd": "sleep 3600", "constraint": "node1"})));
    assert_eq!(pinned["node"], "node1", "{pinned}");
    // @eu without the busy node1: node2.
    let eu = ok(place(&master, json!({"name": "eu", "cmd": "sleep 3600", "constraint": "@eu!node1"})));
    assert_eq!(eu["node"], "node2", "{eu}");
    let bad = master.call("add", json!({"name": "x", "cmd": "sleep 1", "constraint": "@nowhere"}));
    assert_eq!(bad["errno"], 3, "{bad}");
    assert!(bad["reason"].as_str().unwrap().contains("constraint '@nowhere'"), "{bad}");
}

#[test]
fn dry_run_changes_nothing_and_replicas_land_on_distinct_nodes() {
    let (nodes, master) = tagged_trio();
    let dry = ok(master.call(
        "add",
        json!({"name": "web", "cmd": "sleep 3600", "replicas": 2, "dry_run": true,
        "constraint": "@eu"}),
    ));
    assert_eq!(dry["chosen"].as_array().map(Vec::len), Some(2), "{dry}");
    assert_eq!(score_of(&dry, "node3")["why"], "excluded by the constraint", "{dry}");
    assert!(score_of(&dry, "node1")["why"].as_str().unwrap().contains("cpu"), "{dry}");
    assert!(holders(&nodes, "web").is_empty(), "a dry run started something");
    assert_eq!(master.call("placements", json!({}))["placements"], json!([]));

    let refused = master.call("add", json!({"name": "web", "cmd": "sleep 3600", "replicas": 3, "constraint": "@eu"}));
    assert_eq!(refused["errno"], 3, "{refused}");
    assert!(refused["reason"].as_str().unwrap().contains("2 are eligible"), "{refused}");
    let too_many = master.call("add", json!({"name": "web", "cmd": "sleep 3600", "replicas": 0}));
    assert!(too_many["reason"].as_str().unwrap().contains("'replicas' must be"), "{too_many}");

    let placed = ok(place(&master, json!({"name": "web", "cmd": "sleep 3600", "start": true, "replicas": 3})));
    let mut chosen: Vec<String> =
        placed["nodes"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_string()).collect();
    chosen.sort();
    assert_eq!(chosen, ["node1", "node2", "node3"], "{placed}");
    assert_eq!(holders(&nodes, "web"), ["node1", "node2", "node3"]);
    let listed = master.call("placements", json!({}));
    let entry = &listed["placements"][0];
    assert_eq!((entry["name"].as_str(), entry["replicas"].as_u64()), (Some("web"), Some(3)), "{listed}");
    assert!(entry["epoch"].as_u64().unwrap() >= 1, "{listed}");
    let again = master.call("add", json!({"name": "web", "cmd": "sleep 3600"}));
    assert!(again["reason"].as_str().unwrap().contains("already placed"), "{again}");

    // rm without a node: removed everywhere, forgotten.
    let removed = retry_busy(
        || master.call("rm", json!({"name": "web"})),
        |reply| reply.to_string().contains("is already running"),
    );
    ok(removed);
    wait_for("web removed from every node", || {
        let left = holders(&nodes, "web");
        if left.is_empty() {
            Ok(())
        } else {
            Err(format!("{left:?}"))
        }
    });
    assert_eq!(master.call("placements", json!({}))["placements"], json!([]));
}

#[test]
fn the_json_api_lists_placements() {
    let (c, addr) = dashboard_cluster("");
    let placed = ok(place(&c.master, json!({"name": "web", "cmd": "sleep 3600", "failover": true})));
    let listed = get(&addr, "/api/placements").json();
    assert_eq!(listed["placements"][0]["name"], "web", "{listed}");
    assert_eq!(listed["placements"][0]["nodes"], json!([placed["node"]]), "{listed}");
    assert_eq!(listed["placements"][0]["failover"], true, "{listed}");
}

#[test]
fn placements_survive_a_master_kill9() {
    let (nodes, mut master) = tagged_trio();
    let placed = ok(place(&master, json!({"name": "web", "cmd": "sleep 3600", "failover": true, "constraint": "@eu"})));
    let before = master.call("placements", json!({}))["placements"].clone();
    master.kill9();
    master.restart();
    let after = master.call("placements", json!({}))["placements"].clone();
    assert_eq!(after, before, "placed on {}", placed["node"]);
    assert_eq!(after[0]["failover"], true);
    assert_eq!(after[0]["constraint"], "@eu");
    assert_eq!(holders(&nodes, "web"), [placed["node"].as_str().unwrap()]);
}

#[test]
fn drain_empties_a_node_and_undrain_lets_it_take_work() {
    let (nodes, master) = tagged_trio();
    let events = Stream::subscribe(&master.pubsub_endpoint, &["cluster."]);
    let placed = ok(place(&master, json!({"name": "web", "cmd": "sleep 3600", "start": true, "constraint": "node2"})));
    assert_eq!(placed["node"], "node2");
    ok(place(&master, json!({"name": "api", "cmd": "sleep 3600", "start": true, "constraint": "node1"})));
    // web may only run on node2: draining node2 cannot move it, and says so; api stays on node1.
    let drained = clusterctl(&["--endpoint", &master.endpoint, "--json", "drain", "node1"]);
    let reply = drained.json();
    assert_eq!(reply["stayed"]["api"].as_str().map(|r| r.contains("eligible")), Some(true), "{reply}");
    ok(master.call("undrain", json!({"node": "node1"})));

    // With node2 and node3 drained, a watcher free to go anywhere lands on node1.
    for node in ["node2", "node3"] {
        ok(master.call("drain", json!({"node": node})));
    }
    let free = ok(place(&master, json!({"name": "free", "cmd": "sleep 3600", "start": true})));
    assert_eq!(free["node"], "node1");
    for node in ["node2", "node3"] {
        ok(master.call("undrain", json!({"node": node})));
    }
    let reply = ok(master.call("drain", json!({"node": "node1"})));
    let to = reply["moved"]["free"].as_str().unwrap_or_else(|| panic!("free not moved: {reply}")).to_string();
    assert!(to == "node2" || to == "node3", "{reply}");
    assert_eq!(holders(&nodes, "free"), [to.as_str()], "the new copy runs, the old one is gone");
    let event = events.wait_for("cluster.node1.drained", |m| {
        m.topic == "cluster.node1.drained" && m.payload["moved"]["free"].is_string()
    });
    assert_eq!(event.payload["moved"]["free"], to.as_str(), "{event:?}");
    let entry = |name: &str| master.node_entry(name).unwrap_or_else(|| panic!("no {name}"));
    assert_eq!(entry("node1")["schedulable"], false);
    assert_eq!(entry("node2")["schedulable"], true);
    let dry = master.call("add", json!({"name": "x", "cmd": "sleep 1", "dry_run": true}));
    assert_eq!(score_of(&dry, "node1")["why"], "drained (unschedulable)", "{dry}");

    let undrained = clusterctl(&["--endpoint", &master.endpoint, "undrain", "node1"]);
    undrained.ok();
    assert_eq!(entry("node1")["schedulable"], true);
    let back = ok(place(&master, json!({"name": "back", "cmd": "sleep 3600", "constraint": "node1"})));
    assert_eq!(back["node"], "node1");
    let event = events
        .wait_for("cluster.node1.placed", |m| m.topic == "cluster.node1.placed" && m.payload["watcher"] == "back");
    assert_eq!(event.payload["epoch"], back["epoch"], "{event:?}");
}
