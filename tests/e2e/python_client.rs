//! Circus's own Python client (`circus.client.CircusClient`, as used by plugins and scripts)
//! against the master, including the `properties.node` form of addressing.

use cluster_e2e::cli::{circus_client_call, python};
use cluster_e2e::{busy_text, json, retry_busy, Cluster, Value};

fn strings(value: &Value) -> Vec<String> {
    let mut all: Vec<String> = value
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {value}"))
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect();
    all.sort();
    all
}

#[test]
fn circus_client_lists_and_reads_status_through_the_master() {
    let c = Cluster::start();
    let ep = c.ep();
    let out = python(&format!(
        r#"
c = CircusClient(endpoint={ep:?}, timeout=10)
res = {{}}
res["list"] = c.call({{"command": "list", "properties": {{}}}})
res["status"] = c.call({{"command": "status", "properties": {{"name": "second:dummy2"}}}})
res["numprocesses"] = c.call({{"command": "numprocesses", "properties": {{"name": "first:dummy"}}}})
res["unknown"] = c.call({{"command": "status", "properties": {{"name": "third:x"}}}})
c.stop()
print(json.dumps(res))
"#
    ));
    assert_eq!(strings(&out["list"]["watchers"]), c.qualified_watchers(), "{out}");
    assert_eq!(out["status"]["status"], "active", "{out}");
    assert_eq!(out["numprocesses"]["numprocesses"], 1, "{out}");
    assert_eq!(out["unknown"]["status"], "error", "{out}");
    assert_eq!(out["unknown"]["errno"], 3, "{out}");
}

#[test]
fn properties_node_addresses_one_node() {
    let c = Cluster::start();
    let ep = c.ep();

    let reply = circus_client_call(ep, &json!({"command": "status", "properties": {"node": "first", "name": "dummy"}}));
    assert_eq!(reply["status"], "active", "{reply}");

    let direct = c.first.call("numwatchers", json!({}))["numwatchers"].clone();
    let reply = circus_client_call(ep, &json!({"command": "numwatchers", "properties": {"node": "first"}}));
    assert_eq!(reply["numwatchers"], direct, "only first's watchers: {reply}");

    // A list scoped to one node names only that node's watchers (qualified or not).
    let reply = circus_client_call(ep, &json!({"command": "list", "properties": {"node": "second"}}));
    let names: Vec<String> =
        strings(&reply["watchers"]).into_iter().map(|w| w.strip_prefix("second:").unwrap_or(&w).to_string()).collect();
    let mut expected = c.second.watcher_names();
    expected.sort();
    assert_eq!(names, expected, "{reply}");

    let incr = json!({"command": "incr", "properties": {"node": "second", "name": "dummy2", "waiting": true}});
    let reply = retry_busy(|| circus_client_call(ep, &incr), |r| busy_text(&r.to_string()));
    assert_eq!(reply["numprocesses"], 3, "{reply}");
    assert_eq!(c.second.numprocesses("dummy2"), 3);
    assert_eq!(c.first.numprocesses("dummy"), 1);
}
