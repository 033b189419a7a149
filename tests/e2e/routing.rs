//! Stock circusctl through the master, addressing one node's watcher as `node:watcher`
//! (circus-protocol.md §6.2), each outcome checked by asking the node itself.

use std::time::{Duration, Instant};

use cluster_e2e::cli::{circusctl, circusctl_retry};
use cluster_e2e::{json, wait_for, Cluster};

#[test]
fn status_of_a_qualified_watcher() {
    let c = Cluster::start();
    assert_eq!(circusctl(c.ep(), &["status", "first:dummy"]).ok().trim(), "active");
    assert_eq!(circusctl(c.ep(), &["status", "second:dummy2"]).ok().trim(), "active");
    // The dotted form circus-top shows is accepted too.
    assert_eq!(circusctl(c.ep(), &["status", "first.dummy"]).ok().trim(), "active");
    // The watcher state takes the place of "ok" in `status`, as circusd does.
    let reply = circusctl(c.ep(), &["--json", "status", "second:dummy2"]).json();
    assert_eq!(reply["status"], "active", "{reply}");
}

#[test]
fn list_and_numprocesses_of_a_qualified_watcher() {
    let c = Cluster::start();
    let pids: Vec<String> = c.second.pids("dummy2").iter().map(u64::to_string).collect();
    assert_eq!(pids.len(), 2);
    let out = circusctl(c.ep(), &["list", "second:dummy2"]);
    let mut listed: Vec<&str> = out.ok().trim().split(',').collect();
    listed.sort_unstable();
    let mut expected: Vec<&str> = pids.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(listed, expected);

    assert_eq!(circusctl(c.ep(), &["numprocesses", "second:dummy2"]).ok().trim(), "2");
    // The echoed name is re-prefixed with the node.
    let reply = circusctl(c.ep(), &["--json", "numprocesses", "first:dummy"]).json();
    assert_eq!(reply["numprocesses"], 1, "{reply}");
    assert_eq!(reply["watcher_name"], "first:dummy", "{reply}");
}

#[test]
fn incr_and_decr_change_only_the_named_node() {
    let c = Cluster::start();
    circusctl_retry(c.ep(), &["incr", "first:dummy"]).ok();
    c.first.wait_numprocesses("dummy", 2);
    assert_eq!(c.second.numprocesses("dummy2"), 2, "second must be untouched");

    let out = circusctl_retry(c.ep(), &["incr", "first:dummy", "2", "--waiting"]);
    assert_eq!(out.ok().trim(), "4");
    assert_eq!(c.first.numprocesses("dummy"), 4);

    let out = circusctl_retry(c.ep(), &["decr", "first:dummy", "3", "--waiting"]);
    assert_eq!(out.ok().trim(), "1");
    assert_eq!(c.first.numprocesses("dummy"), 1);

    circusctl_retry(c.ep(), &["decr", "second:dummy2"]).ok();
    c.second.wait_numprocesses("dummy2", 1);
    assert_eq!(c.first.numprocesses("dummy"), 1);
}

#[test]
fn get_options_and_stats_of_a_qualified_watcher() {
    let c = Cluster::start();
    let out = circusctl(c.ep(), &["get", "first:dummy", "numprocesses", "cmd"]);
    let text = out.ok();
    assert!(text.contains("numprocesses: 1"), "{text}");
    assert!(text.contains("cmd: sleep"), "{text}");

    let out = circusctl(c.ep(), &["options", "second:dummy2"]);
    let text = out.ok();
    assert!(text.contains("numprocesses: 2"), "{text}");
    assert!(text.contains("cmd: sleep"), "{text}");

    let reply = circusctl(c.ep(), &["--json", "stats", "second:dummy2"]).json();
    assert_eq!(reply["name"], "second:dummy2", "{reply}");
    let mut pids: Vec<u64> = reply["info"]
        .as_object()
        .unwrap_or_else(|| panic!("no info: {reply}"))
        .keys()
        .map(|k| k.parse().expect("pid keys"))
        .collect();
    pids.sort_unstable();
    assert_eq!(pids, c.second.pids("dummy2"));

    let out = circusctl(c.ep(), &["stats", "first:dummy"]);
    let text = out.ok();
    assert_eq!(text.lines().next(), Some("first:dummy:"), "{text}");
    assert!(text.contains(&c.first.pids("dummy")[0].to_string()), "{text}");
}

#[test]
fn stop_start_restart_with_waiting() {
    let c = Cluster::start();
    circusctl_retry(c.ep(), &["stop", "first:dummy", "--waiting"]).ok();
    assert_eq!(c.first.status("dummy"), "stopped");
    assert_eq!(c.second.status("dummy2"), "active");
    assert_eq!(circusctl(c.ep(), &["status", "first:dummy"]).ok().trim(), "stopped");

    circusctl_retry(c.ep(), &["start", "first:dummy", "--waiting"]).ok();
    assert_eq!(c.first.status("dummy"), "active");
    assert_eq!(c.first.pids("dummy").len(), 1);

    let before = c.first.pids("dummy");
    let other = c.second.pids("dummy2");
    let reply = circusctl_retry(c.ep(), &["--json", "restart", "first:dummy", "--waiting"]).json();
    assert_eq!(reply["status"], "ok", "{reply}");
    let after = c.first.pids("dummy");
    assert_eq!(after.len(), 1);
    assert_ne!(after, before, "restart must replace the process");
    assert_eq!(c.second.pids("dummy2"), other, "second must be untouched");
}

#[test]
fn restart_by_pattern_reaches_every_node() {
    let c = Cluster::start();
    let (first_before, second_before) = (c.first.pids("dummy"), c.second.pids("dummy2"));
    let stats_before = c.first.pids("circusd-stats");
    circusctl_retry(c.ep(), &["restart", "*:dummy*", "--waiting"]).ok();
    // With `waiting`, the reply comes once every matched watcher has restarted.
    let (first_after, second_after) = (c.first.pids("dummy"), c.second.pids("dummy2"));
    assert_eq!(first_after.len(), 1);
    assert_eq!(second_after.len(), 2);
    assert!(first_after.iter().all(|p| !first_before.contains(p)), "{first_before:?} -> {first_after:?}");
    assert!(second_after.iter().all(|p| !second_before.contains(p)), "{second_before:?} -> {second_after:?}");
    assert_eq!(c.first.pids("circusd-stats"), stats_before, "circusd-stats does not match '*:dummy*'");
}

#[test]
fn add_and_rm_a_watcher_on_a_named_node() {
    let c = Cluster::start();
    circusctl_retry(c.ep(), &["add", "--start", "first:extra", "sleep 3600"]).ok();
    wait_for("first:extra to run", || {
        let names = c.first.watcher_names();
        if names.contains(&"extra".to_string()) && c.first.pids("extra").len() == 1 {
            Ok(())
        } else {
            Err(format!("{names:?}"))
        }
    });
    assert!(!c.second.watcher_names().contains(&"extra".to_string()));
    let listed = circusctl(c.ep(), &["list"]);
    assert!(listed.ok().split(',').any(|w| w.trim() == "first:extra"), "{listed:?}");

    circusctl_retry(c.ep(), &["rm", "first:extra"]).ok();
    wait_for("first:extra to be removed", || {
        let names = c.first.watcher_names();
        if names.contains(&"extra".to_string()) {
            Err(format!("{names:?}"))
        } else {
            Ok(())
        }
    });
}

#[test]
fn unknown_node_is_an_error_reply() {
    let c = Cluster::start();
    let out = circusctl(c.ep(), &["status", "third:x"]);
    assert_eq!(out.code, 3, "{out:?}");
    let out = circusctl(c.ep(), &["incr", "third:x"]);
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.contains("third") || out.stdout.contains("third"), "{out:?}");

    let reply = c.master.call("status", json!({"name": "third:x"}));
    assert_eq!(reply["status"], "error", "{reply}");
    assert_eq!(reply["errno"], 3, "{reply}");
    assert!(reply["reason"].as_str().unwrap_or_default().contains("third"), "{reply}");
}

#[test]
fn unknown_command_for_a_named_node_is_forwarded() {
    let c = Cluster::start();
    let client = c.master.client(Duration::from_secs(5));
    client.send_raw(br#"{"command": "bogus", "properties": {"node": "first"}, "id": "fw1"}"#).expect("send");
    let bytes = client.recv_raw(Instant::now() + Duration::from_secs(5)).expect("a reply");
    let reply: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON reply");
    // circusd's own answer, relayed with the client's id.
    assert_eq!(reply["status"], "error", "{reply}");
    assert_eq!(reply["errno"], 2, "{reply}");
    assert_eq!(reply["reason"], "unknown command: 'bogus'", "{reply}");
    assert_eq!(reply["id"], "fw1", "{reply}");

    // The same command for a node that does not exist is refused by the master itself.
    client.send_raw(br#"{"command": "bogus", "properties": {"node": "third"}, "id": "fw2"}"#).expect("send");
    let bytes = client.recv_raw(Instant::now() + Duration::from_secs(5)).expect("a reply");
    let reply: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON reply");
    assert_eq!(reply["status"], "error", "{reply}");
    assert_eq!(reply["id"], "fw2", "{reply}");
    assert!(reply["reason"].as_str().unwrap_or_default().contains("third"), "{reply}");
}
