//! Asking one circusd directly (not through the master), and polling its answers.

use serde_json::{json, Value};

use super::CircusNode;
use crate::{must_call, wait_for};

impl CircusNode {
    /// One request straight to this node (not through the master).
    pub fn call(&self, command: &str, properties: Value) -> Value {
        must_call(&self.endpoint, command, properties)
    }

    /// `numprocesses` of one watcher, asked of the node directly.
    pub fn numprocesses(&self, watcher: &str) -> u64 {
        let reply = self.call("numprocesses", json!({"name": watcher}));
        reply["numprocesses"].as_u64().unwrap_or_else(|| panic!("numprocesses {watcher}: {reply}"))
    }

    /// Pids of one watcher, asked of the node directly.
    pub fn pids(&self, watcher: &str) -> Vec<u64> {
        let reply = self.call("list", json!({"name": watcher}));
        let pids = reply["pids"].as_array().unwrap_or_else(|| panic!("list {watcher}: {reply}"));
        let mut pids: Vec<u64> = pids.iter().filter_map(Value::as_u64).collect();
        pids.sort_unstable();
        pids
    }

    /// Watcher names, asked of the node directly.
    pub fn watcher_names(&self) -> Vec<String> {
        let reply = self.call("list", json!({}));
        let names = reply["watchers"].as_array().unwrap_or_else(|| panic!("list: {reply}"));
        names.iter().filter_map(|n| n.as_str().map(String::from)).collect()
    }

    /// `status` of one watcher, asked of the node directly.
    pub fn status(&self, watcher: &str) -> String {
        let reply = self.call("status", json!({"name": watcher}));
        reply["status"].as_str().unwrap_or_default().to_string()
    }

    /// Polls the node until `numprocesses <watcher>` is `n`.
    pub fn wait_numprocesses(&self, watcher: &str, n: u64) {
        wait_for(&format!("{}:{watcher} to have {n} processes", self.name), || {
            let got = self.numprocesses(watcher);
            if got == n {
                Ok(())
            } else {
                Err(format!("numprocesses = {got}"))
            }
        });
    }
}
