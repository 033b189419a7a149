//! The remaining circusctl commands through a named node (`clusterctl --node`, which sends
//! `properties.node`, and qualified names with stock circusctl), each outcome checked on the
//! node itself: set/get, signal, kill, reload, reloadconfig, and the node's own
//! globaloptions/dstats/numwatchers versus the master's.

use cluster_e2e::cli::{circusctl_retry, clusterctl, Run};
use cluster_e2e::{json, retry_busy, wait_for, Cluster};

/// `clusterctl --endpoint <master> --timeout 10 <args>`, repeated while circusd reports its
/// transient arbiter lock.
fn ctl(c: &Cluster, args: &[&str]) -> Run {
    let mut all = vec!["--endpoint", c.ep(), "--timeout", "10"];
    all.extend_from_slice(args);
    retry_busy(|| clusterctl(&all), Run::busy)
}

/// Waits until `watcher` on the node runs `count` processes none of which is in `gone`.
fn wait_replaced(node: &cluster_e2e::CircusNode, watcher: &str, gone: &[u64], count: usize) {
    wait_for("new processes", || {
        let pids = node.pids(watcher);
        if pids.len() == count && pids.iter().all(|p| !gone.contains(p)) {
            Ok(())
        } else {
            Err(format!("{gone:?} -> {pids:?}"))
        }
    });
}

#[test]
fn set_then_get_through_a_named_node() {
    let c = Cluster::start();
    assert_eq!(ctl(&c, &["--node", "first", "set", "dummy", "graceful_timeout", "7"]).ok().trim(), "ok");
    let direct = c.first.call("get", json!({"name": "dummy", "keys": ["graceful_timeout"]}));
    assert_eq!(direct["options"]["graceful_timeout"], 7.0, "{direct}");
    let out = ctl(&c, &["get", "first:dummy", "graceful_timeout"]);
    assert_eq!(out.ok().trim(), "graceful_timeout: 7.0");
    // The other node's watcher is untouched.
    let other = c.second.call("get", json!({"name": "dummy2", "keys": ["graceful_timeout"]}));
    assert_ne!(other["options"]["graceful_timeout"], 7.0, "{other}");
}

#[test]
fn signal_and_kill_reach_the_named_node() {
    let c = Cluster::start();
    let before = c.first.pids("dummy");
    let pid = before[0].to_string();
    assert_eq!(ctl(&c, &["signal", "dummy", &pid, "KILL", "--node", "first"]).ok().trim(), "ok");
    wait_replaced(&c.first, "dummy", &before, 1);

    let before = c.second.pids("dummy2");
    let pid = before[0].to_string();
    let out = circusctl_retry(c.ep(), &["kill", "second:dummy2", &pid, "--signum", "9"]);
    assert_eq!(out.ok().trim(), "ok");
    wait_replaced(&c.second, "dummy2", &before[..1], 2);
}

#[test]
fn reload_and_reloadconfig_through_a_named_node() {
    let c = Cluster::start();
    let before = c.second.pids("dummy2");
    let first_before = c.first.pids("dummy");
    let out = circusctl_retry(c.ep(), &["reload", "second:dummy2", "--waiting"]);
    assert_eq!(out.code, 0, "{out:?}");
    wait_replaced(&c.second, "dummy2", &before, 2);
    assert_eq!(c.first.pids("dummy"), first_before, "first must be untouched");

    assert_eq!(ctl(&c, &["--node", "first", "reloadconfig"]).ok().trim(), "ok");
    assert_eq!(c.first.status("dummy"), "active");
}

#[test]
fn node_property_asks_the_node_not_the_master() {
    let c = Cluster::start();
    let node = ctl(&c, &["--json", "--node", "second", "globaloptions"]).json();
    assert_eq!(node["options"]["endpoint"], c.second.endpoint.as_str(), "{node}");
    let master = ctl(&c, &["--json", "globaloptions"]).json();
    assert_eq!(master["options"]["endpoint"], c.ep(), "{master}");

    let node = ctl(&c, &["--json", "dstats", "--node", "first"]).json();
    assert_eq!(node["info"]["pid"], c.first.pid().expect("running"), "{node}");
    let master = ctl(&c, &["--json", "dstats"]).json();
    assert_eq!(master["info"]["pid"], c.master.pid().expect("running"), "{master}");

    let direct = c.second.call("numwatchers", json!({}))["numwatchers"].clone();
    let through = ctl(&c, &["--node", "second", "numwatchers"]);
    assert_eq!(through.ok().trim(), direct.to_string());
}
