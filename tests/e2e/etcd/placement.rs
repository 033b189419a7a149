//! Placement with several masters on one etcd (issue 17 with issue 14): the desired state lives
//! under `<prefix>/placement/`, every master lists it, only the leader decides, a new leader takes
//! over a pending failover after the old one's `kill -9`, and a frozen etcd holds every decision
//! until it answers again. Real etcd-server, real circusd, a short lease TTL and failover grace.

use std::time::Duration;

use cluster_e2e::master::node_section;
use cluster_e2e::{json, ok, wait_for, CircusNode, Master, Value};

use super::{etcd_or_skip, master_with, registry};
use crate::placement::place;

/// Short, like the placement tests: a copy moves 2 s after its node is `down`.
const GRACE: &str = "failover_grace = \"2s\"\n";

/// Three nodes `n1`..`n3` with a `dummy` watcher, and two masters `a` and `b` configured with
/// them, on `etcd_url` under `prefix`.
fn cluster(etcd_url: &str, prefix: &str) -> (Vec<CircusNode>, [Master; 2]) {
    let nodes: Vec<CircusNode> = (1..=3).map(|i| CircusNode::start(&format!("n{i}"), &[("dummy", 1)])).collect();
    let extra: String = std::iter::once(GRACE.to_string()).chain(nodes.iter().map(node_section)).collect();
    let masters = [master_with("a", etcd_url, prefix, &extra), master_with("b", etcd_url, prefix, &extra)];
    let names: Vec<String> = nodes.iter().map(|n| n.name.clone()).collect();
    for m in &masters {
        m.wait_all_alive(&names);
    }
    (nodes, masters)
}

/// The index of the master that leads, once both agree on it.
fn leader_index(masters: &[Master; 2]) -> usize {
    wait_for("both masters to agree on a leader", || {
        let seen: Vec<Value> = masters.iter().map(registry).collect();
        let agreed = seen[0]["leader"].is_string() && seen[0]["leader"] == seen[1]["leader"];
        match seen.iter().position(|r| r["leading"] == true) {
            Some(index) if agreed && seen[1 - index]["leading"] == false => Ok(index),
            _ => Err(format!("{seen:?}")),
        }
    })
}

/// The `placements` entry of `name` on `master`, if it lists one.
fn entry(master: &Master, name: &str) -> Option<Value> {
    let listed = master.call("placements", json!({}));
    listed["placements"].as_array()?.iter().find(|p| p["name"] == name).cloned()
}

/// Waits until `master` lists `name` on one node other than `from`; returns that node's name.
fn wait_moved(master: &Master, name: &str, from: &str) -> String {
    wait_for("the copy to fail over", || {
        let entry = entry(master, name).ok_or_else(|| format!("{name} not listed"))?;
        match entry["nodes"].as_array().map(Vec::as_slice) {
            Some([Value::String(to)]) if to != from => Ok(to.clone()),
            _ => Err(entry.to_string()),
        }
    })
}

fn node<'a>(nodes: &'a [CircusNode], name: &str) -> &'a CircusNode {
    nodes.iter().find(|n| n.name == name).unwrap_or_else(|| panic!("no node {name}"))
}

fn web() -> Value {
    json!({"name": "web", "cmd": "sleep 3600", "start": true, "failover": true})
}

#[test]
fn a_new_leader_takes_over_a_pending_failover_after_kill_9() {
    let Some(etcd) = etcd_or_skip() else { return };
    let (mut nodes, mut masters) = cluster(&etcd.url, "/t/placed");
    let lead = leader_index(&masters);
    let leader_name = registry(&masters[lead])["master"].as_str().unwrap().to_string();

    // A follower makes no decision and says who does.
    let refused = masters[1 - lead].call("add", web());
    assert_eq!(refused["errno"], 3, "{refused}");
    let reason = refused["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("not the leader") && reason.contains(&format!("'{leader_name}'")), "{reason}");

    let placed = ok(place(&masters[lead], web()));
    let from = placed["node"].as_str().unwrap().to_string();
    let follower = &masters[1 - lead];
    let listed = wait_for("the follower to list the placement", || {
        entry(follower, "web").filter(|e| e["epoch"] == placed["epoch"]).ok_or("not listed yet".to_string())
    });
    assert_eq!(listed["nodes"], json!([from]), "{listed}");
    assert_eq!(listed["failover"], true, "{listed}");
    assert_eq!(listed["cmd"], "sleep 3600", "{listed}");

    // The leader dies, and so does the node holding the copy: the failover is pending.
    masters[lead].kill9();
    nodes.iter_mut().find(|n| n.name == from).unwrap().kill9();
    let survivor = &masters[1 - lead];
    wait_for("the survivor to lead", || {
        let registry = registry(survivor);
        (registry["leading"] == true).then_some(()).ok_or(registry.to_string())
    });
    let to = wait_moved(survivor, "web", &from);
    let to = node(&nodes, &to);
    wait_for("web to run on its new node", || match to.status("web").as_str() {
        "active" => Ok(()),
        other => Err(format!("{}: {other}", to.name)),
    });
    let after = entry(survivor, "web").unwrap();
    assert!(after["epoch"].as_u64().unwrap() > placed["epoch"].as_u64().unwrap(), "{after}");
    assert_eq!(after["superseded"], json!({from.as_str(): after["epoch"]}), "{after}");
    let others: Vec<&str> =
        nodes.iter().filter(|n| n.name != from && n.name != to.name).map(|n| n.name.as_str()).collect();
    for name in others {
        assert!(!node(&nodes, name).watcher_names().contains(&"web".to_string()), "a second copy on {name}");
    }
}

#[test]
fn a_frozen_etcd_holds_placement_and_failover_until_it_answers() {
    let Some(etcd) = etcd_or_skip() else { return };
    let (mut nodes, masters) = cluster(&etcd.url, "/t/placed-frozen");
    let lead = leader_index(&masters);
    let placed = ok(place(&masters[lead], web()));
    let from = placed["node"].as_str().unwrap().to_string();
    wait_for("the follower to list the placement", || entry(&masters[1 - lead], "web").ok_or("not listed".to_string()));

    etcd.freeze();
    for m in &masters {
        wait_for("the registry to be marked stale", || {
            let registry = registry(m);
            (registry["stale"] == true && registry["leading"] == false).then_some(()).ok_or(registry.to_string())
        });
    }
    for m in &masters {
        let refused = m.call("add", json!({"name": "api", "cmd": "sleep 3600"}));
        assert_eq!(refused["errno"], 3, "{refused}");
        let reason = refused["reason"].as_str().unwrap_or_default();
        assert!(reason.starts_with("registry unavailable (etcd: "), "{reason}");
        let drain = m.call("drain", json!({"node": "n1"}));
        assert!(drain["reason"].as_str().is_some_and(|r| r.starts_with("registry unavailable (etcd: ")), "{drain}");
    }

    // The holder dies while etcd is frozen: every master sees it down, none fails it over.
    nodes.iter_mut().find(|n| n.name == from).unwrap().kill9();
    for m in &masters {
        m.wait_node_state(&from, "down");
    }
    // Past the grace and a few failover ticks: time for a wrong failover to have happened.
    std::thread::sleep(Duration::from_secs(4));
    for m in &masters {
        let still = entry(m, "web").expect("still placed");
        assert_eq!(still["nodes"], json!([from]), "failed over while etcd was frozen: {still}");
    }
    for n in nodes.iter().filter(|n| n.name != from) {
        assert!(!n.watcher_names().contains(&"web".to_string()), "web started on {} while frozen", n.name);
    }

    // etcd answers again: a leader is elected, reads the placements and fails the copy over;
    // both masters converge on the same assignment.
    etcd.thaw();
    let to = wait_moved(&masters[0], "web", &from);
    wait_for("both masters to list the same assignment", || {
        let (a, b) = (entry(&masters[0], "web"), entry(&masters[1], "web"));
        match (&a, &b) {
            (Some(a), Some(b)) if a["nodes"] == json!([to]) && a["epoch"] == b["epoch"] && a["nodes"] == b["nodes"] => {
                Ok(())
            }
            _ => Err(format!("{a:?} {b:?}")),
        }
    });
    let to = node(&nodes, &to);
    wait_for("web to run on its new node", || match to.status("web").as_str() {
        "active" => Ok(()),
        other => Err(format!("{}: {other}", to.name)),
    });
    let copies = nodes.iter().filter(|n| n.name != from && n.watcher_names().contains(&"web".to_string())).count();
    assert_eq!(copies, 1, "exactly one running copy after the failover");
}

#[test]
fn drain_undrain_and_rm_by_the_leader_are_seen_by_every_master() {
    let Some(etcd) = etcd_or_skip() else { return };
    let (nodes, masters) = cluster(&etcd.url, "/t/placed-drain");
    let lead = leader_index(&masters);
    let (leader, follower) = (&masters[lead], &masters[1 - lead]);
    let placed = ok(place(leader, web()));
    let from = placed["node"].as_str().unwrap().to_string();
    wait_for("the follower to list the placement", || entry(follower, "web").ok_or("not listed".to_string()));

    // The follower changes nothing: it names the leader.
    for (command, properties) in
        [("drain", json!({"node": from})), ("undrain", json!({"node": from})), ("rm", json!({"name": "web"}))]
    {
        let refused = follower.call(command, properties);
        assert_eq!(refused["errno"], 3, "{command}: {refused}");
        assert!(refused["reason"].as_str().is_some_and(|r| r.contains("not the leader")), "{command}: {refused}");
    }
    assert!(node(&nodes, &from).watcher_names().contains(&"web".to_string()), "a refused rm removed the copy");

    let drained = ok(leader.call("drain", json!({"node": from})));
    let to = drained["moved"]["web"].as_str().unwrap_or_else(|| panic!("{drained}")).to_string();
    wait_for("the follower to see the drain and the move", || {
        let listed = follower.call("placements", json!({}));
        let web = entry(follower, "web").unwrap_or_default();
        let schedulable = follower.node_entry(&from).map(|n| n["schedulable"].clone());
        let seen =
            listed["drained"] == json!([from]) && web["nodes"] == json!([to]) && schedulable == Some(json!(false));
        seen.then_some(()).ok_or(format!("{listed} schedulable={schedulable:?}"))
    });

    ok(leader.call("undrain", json!({"node": from})));
    wait_for("the follower to see the undrain", || {
        let listed = follower.call("placements", json!({}));
        (listed["drained"] == json!([])).then_some(()).ok_or(listed.to_string())
    });

    ok(leader.call("rm", json!({"name": "web"})));
    wait_for("the follower to forget the placement", || match entry(follower, "web") {
        None => Ok(()),
        Some(still) => Err(still.to_string()),
    });
    assert!(!node(&nodes, &to).watcher_names().contains(&"web".to_string()), "rm left the copy on {to}");
}
