//! Issue 12: a cluster with a node down still answers. Merged reads give the live nodes'
//! results and name the dead node, where stock circusctl prints it; changes over several nodes
//! report which nodes changed, were skipped and failed, and never fail a change that happened.

use cluster_e2e::cli::{circusctl, clusterctl};
use cluster_e2e::cluster::STRICT_READS;
use cluster_e2e::{json, ok, CircusNode, Master, Value};

/// `first` and `third` run `dummy` (1 process), `second` runs `dummy2` (2 processes).
fn trio(cluster_keys: &str) -> (Vec<CircusNode>, Master) {
    let nodes = vec![
        CircusNode::start("first", &[("dummy", 1)]),
        CircusNode::start("second", &[("dummy2", 2)]),
        CircusNode::start("third", &[("dummy", 1)]),
    ];
    let master = Master::start_keyed(&nodes.iter().collect::<Vec<_>>(), cluster_keys);
    (nodes, master)
}

/// Stock circusctl's output of `args`, which must succeed.
fn stock(master: &Master, args: &[&str]) -> String {
    circusctl(&master.endpoint, args).ok().to_string()
}

#[test]
fn merged_reads_show_the_live_nodes_and_name_the_dead_one() {
    let (mut nodes, master) = trio("");
    nodes[1].kill9();
    master.wait_node_state("second", "down");

    let status = stock(&master, &["status"]);
    assert!(status.contains("first:dummy: active") && status.contains("third:dummy: active"), "{status}");
    assert!(status.contains("second: unreachable (down, last seen "), "{status}");
    assert!(!status.contains("second:dummy2"), "{status}");

    let list = stock(&master, &["list"]);
    assert!(list.contains("first:dummy") && list.contains("third:dummy"), "{list}");
    assert!(list.contains("second: unreachable (down, last seen "), "{list}");

    let live: u64 = [&nodes[0], &nodes[2]]
        .iter()
        .map(|n| n.call("numprocesses", json!({}))["numprocesses"].as_u64().unwrap())
        .sum();
    let count = stock(&master, &["numprocesses"]);
    assert!(count.starts_with(&format!("{live} (without second: unreachable (down, ")), "{count}");

    let stats = stock(&master, &["stats"]);
    assert!(stats.contains("first:dummy:") && stats.contains("third:dummy:"), "{stats}");
    assert!(stats.contains("second:\nnode: unreachable (down, "), "{stats}");

    // The structured field, for programs.
    let reply = circusctl(&master.endpoint, &["--json", "numprocesses"]).json();
    assert_eq!(reply["status"], "ok", "{reply}");
    assert_eq!(reply["counted"], live, "{reply}");
    let missing = reply["missing"].as_object().unwrap_or_else(|| panic!("no missing: {reply}"));
    assert_eq!(missing.keys().collect::<Vec<_>>(), ["second"], "{reply}");
    assert_eq!(missing["second"]["state"], "down", "{reply}");
    assert!(missing["second"]["last_seen"].is_f64(), "{reply}");
    assert!(missing["second"]["reason"].as_str().unwrap_or_default().starts_with("node second is down"), "{reply}");
    let reply = ok(master.call("listsockets", json!({})));
    assert!(reply["missing"]["second"].is_object(), "{reply}");

    // clusterctl prints the results, names the dead node on stderr and exits 4.
    let run = clusterctl(&["--endpoint", &master.endpoint, "status"]);
    assert_eq!(run.code, 4, "{run:?}");
    assert!(run.stdout.contains("first:dummy: active"), "{run:?}");
    assert!(run.stderr.contains("partial result: node second did not answer (down)"), "{run:?}");
}

#[test]
fn strict_merged_reads_keep_the_all_or_nothing_error() {
    let (mut nodes, master) = trio(STRICT_READS);
    nodes[1].kill9();
    master.wait_node_state("second", "down");
    for command in ["status", "list", "numprocesses", "stats"] {
        let run = circusctl(&master.endpoint, &[command]);
        assert_eq!(run.code, 3, "{command}: {run:?}");
        let reply = master.call(command, json!({}));
        assert_eq!(reply["status"], "error", "{command}: {reply}");
        assert!(reply["reason"].as_str().unwrap_or_default().contains("node second is down"), "{reply}");
        assert!(reply.get("missing").is_none(), "{reply}");
    }
}

/// `incr` with the reply's report: which nodes changed and which were skipped.
fn incr_all(master: &Master) -> Value {
    let run = circusctl(&master.endpoint, &["--json", "incr", "*:dummy"]);
    run.json()
}

#[test]
fn a_change_over_every_node_skips_nodes_without_the_watcher() {
    let (mut nodes, master) = trio("");
    // Stock circusctl: ok, although second has no `dummy`.
    assert_eq!(stock(&master, &["incr", "*:dummy"]).trim(), "ok");
    nodes[0].wait_numprocesses("dummy", 2);
    nodes[2].wait_numprocesses("dummy", 2);
    assert_eq!(nodes[1].numprocesses("dummy2"), 2);

    // Again: each live node changes once more, nothing doubles.
    let reply = incr_all(&master);
    assert_eq!(reply["status"], "ok", "{reply}");
    assert_eq!(reply["changed"], json!(["first", "third"]), "{reply}");
    assert_eq!(reply["skipped"], json!(["second"]), "{reply}");
    assert_eq!(reply["failed"], json!({}), "{reply}");
    nodes[0].wait_numprocesses("dummy", 3);
    nodes[2].wait_numprocesses("dummy", 3);

    // A dead node fails, the change on the others is still reported as done.
    nodes[2].kill9();
    let reply = incr_all(&master);
    assert_eq!(reply["status"], "ok", "{reply}");
    assert_eq!(reply["changed"], json!(["first"]), "{reply}");
    assert!(reply["failed"]["third"].as_str().unwrap_or_default().contains("third"), "{reply}");
    nodes[0].wait_numprocesses("dummy", 4);
    let run = clusterctl(&["--endpoint", &master.endpoint, "decr", "*:dummy"]);
    assert_eq!(run.code, 4, "{run:?}");
    // Unreachable at first, down after `down_after` missed probes: either names it.
    assert!(run.stderr.contains("third (1): node third is "), "{run:?}");
    nodes[0].wait_numprocesses("dummy", 3);

    // No node has the watcher: the error of circusd, as for restart.
    let reply = master.call("incr", json!({"name": "*:nope"}));
    assert_eq!(reply["status"], "error", "{reply}");
}
