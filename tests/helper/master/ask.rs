//! Asking a running master, and polling what it answers until a test's condition holds.

use std::time::Duration;

use serde_json::{json, Value};

use super::Master;
use crate::{must_call, wait_for, Client};

impl Master {
    /// A protocol client connected to the master's command endpoint.
    pub fn client(&self, timeout: Duration) -> Client {
        Client::connect(&self.endpoint, timeout).expect("connect to the master")
    }

    /// One request to the master that must be answered within 10 s.
    pub fn call(&self, command: &str, properties: Value) -> Value {
        must_call(&self.endpoint, command, properties)
    }

    /// The `nodes` entry named `name`, if any.
    pub fn node_entry(&self, name: &str) -> Option<Value> {
        let reply = self.call("nodes", json!({}));
        reply["nodes"].as_array()?.iter().find(|n| n["name"] == name).cloned()
    }

    /// Polls `nodes` until node `name` is there and `alive`, and returns its entry.
    pub fn wait_alive(&self, name: &str) -> Value {
        wait_for(&format!("node {name} to be listed and alive"), || match self.node_entry(name) {
            Some(entry) if entry["state"] == "alive" => Ok(entry),
            other => Err(format!("{other:?}")),
        })
    }

    /// Polls `nodes` until every node of `names` is listed and `alive`.
    pub fn wait_all_alive(&self, names: &[String]) {
        wait_for(&format!("{} nodes listed and alive", names.len()), || {
            let reply = self.call("nodes", json!({}));
            let nodes = reply["nodes"].as_array().cloned().unwrap_or_default();
            let alive = |name: &String| nodes.iter().any(|n| n["name"] == name.as_str() && n["state"] == "alive");
            let missing: Vec<&String> = names.iter().filter(|name| !alive(name)).collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!("{} not alive: {missing:?}", missing.len()))
            }
        });
    }

    /// Polls `nodes` until node `name` has `state`.
    pub fn wait_node_state(&self, name: &str, state: &str) {
        wait_for(&format!("node {name} to be {state}"), || match self.node_entry(name) {
            Some(entry) if entry["state"] == state => Ok(()),
            other => Err(format!("{other:?}")),
        });
    }

    /// Waits until clusterd's log holds `needle`.
    pub fn wait_log(&self, needle: &str) {
        wait_for(&format!("clusterd to log {needle:?}"), || {
            if self.stderr().contains(needle) {
                Ok(())
            } else {
                Err("not in the log yet".to_string())
            }
        });
    }

    /// Waits until at least `count` client requests are in flight (`dstats` → `requests`).
    pub fn wait_in_flight(&self, count: u64) {
        wait_for(&format!("{count} request(s) in flight"), || {
            let requests = self.call("dstats", json!({}))["requests"].clone();
            // The `dstats` asking is itself in flight while it is answered.
            if requests["in_flight"].as_u64() >= Some(count + 1) {
                Ok(())
            } else {
                Err(requests.to_string())
            }
        });
    }
}
