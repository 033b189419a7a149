//! The job's output on each node, gathered like `clush -b`: nodes whose output is identical
//! are printed once, under the list of those nodes.
//!
//! `run` sends the job's stdout and stderr to files in circusd's directory
//! ([`crate::commands::run::add_request`]); once the job is over, one `logs` request with
//! `forget: true` asks every node's log agent for all of it (an agent reads the files at once,
//! even for a watcher it has not seen yet) and has the agents delete the files. A node
//! without an agent keeps its files and is named on stderr.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::commands::request;
use crate::fold::fold;
use crate::gather::{ordered, RULE};
use crate::master::Master;

/// The most lines gathered per node (the master's `logs` limit).
const MAX_LINES: u64 = 10_000;

/// Each node's output, and why some gave none.
#[derive(Debug, Default, PartialEq)]
pub struct Outputs {
    /// The output of each node that gave it, its lines joined by `\n` (empty when it printed
    /// nothing).
    pub text: BTreeMap<String, String>,
    /// Nodes whose output could not be read, with the reason.
    pub missing: BTreeMap<String, String>,
    /// The master dropped older lines to stay under its reply size.
    pub truncated: bool,
}

/// Asks the master for the output of `watcher` on `nodes` (nothing is asked when empty).
pub fn gather(master: &dyn Master, watcher: &str, nodes: &[String]) -> Outputs {
    if nodes.is_empty() {
        return Outputs::default();
    }
    let asked =
        request("logs", json!({"node": nodes.join(","), "watcher": watcher, "lines": MAX_LINES, "forget": true}));
    match master.call(&asked) {
        Ok(reply) => from_reply(&reply.0, nodes),
        Err(err) => all_missing(nodes, &format!("no reply from the master: {err}")),
    }
}

/// Reads a `logs` reply: `logs: {node: [lines]}`, `missing: {node: reason}`, or an error
/// whose reason covers every node.
fn from_reply(reply: &serde_json::Map<String, Value>, nodes: &[String]) -> Outputs {
    if reply.get("status").and_then(Value::as_str) != Some("ok") {
        let reason = reply.get("reason").and_then(Value::as_str).unwrap_or("the master refused `logs`");
        return all_missing(nodes, reason);
    }
    let mut outputs = Outputs { truncated: reply.get("truncated") == Some(&Value::Bool(true)), ..Outputs::default() };
    let logs = reply.get("logs").and_then(Value::as_object);
    let missing = reply.get("missing").and_then(Value::as_object);
    for node in nodes {
        if let Some(lines) = logs.and_then(|logs| logs.get(node)).and_then(Value::as_array) {
            let text: Vec<&str> = lines.iter().filter_map(|line| line.get("line").and_then(Value::as_str)).collect();
            outputs.text.insert(node.clone(), text.join("\n"));
        } else {
            let reason = missing.and_then(|m| m.get(node)).and_then(Value::as_str).unwrap_or("no output in the reply");
            outputs.missing.insert(node.clone(), reason.to_string());
        }
    }
    outputs
}

fn all_missing(nodes: &[String], reason: &str) -> Outputs {
    let missing = nodes.iter().map(|node| (node.clone(), reason.to_string())).collect();
    Outputs { missing, ..Outputs::default() }
}

impl Outputs {
    /// The output of `node` for `--json`: its text, or null when it could not be read.
    pub fn json(&self, node: &str) -> Value {
        self.text.get(node).map_or(Value::Null, |text| Value::String(text.clone()))
    }

    /// The console form: one block per distinct non-empty output, largest group first,
    /// `clush -b`'s rule lines around the nodes; and the warnings for stderr.
    pub fn console(&self) -> (String, String) {
        let mut groups: Vec<(&str, Vec<String>)> = Vec::new();
        for (node, text) in self.text.iter().filter(|(_, text)| !text.is_empty()) {
            match groups.iter_mut().find(|(seen, _)| *seen == text.as_str()) {
                Some((_, nodes)) => nodes.push(node.clone()),
                None => groups.push((text.as_str(), vec![node.clone()])),
            }
        }
        let mut out = String::new();
        for (text, nodes) in ordered(groups) {
            out.push_str(&format!("{RULE}\n{} ({})\n{RULE}\n{text}\n", fold(&nodes), nodes.len()));
        }
        let mut err = String::new();
        if self.truncated {
            err.push_str("warning: output cut: the master keeps replies under 16 MiB (oldest lines dropped)\n");
        }
        let mut reasons: Vec<(&str, Vec<String>)> = Vec::new();
        for (node, reason) in &self.missing {
            match reasons.iter_mut().find(|(seen, _)| *seen == reason.as_str()) {
                Some((_, nodes)) => nodes.push(node.clone()),
                None => reasons.push((reason.as_str(), vec![node.clone()])),
            }
        }
        for (reason, nodes) in ordered(reasons) {
            err.push_str(&format!("warning: output of {} not gathered: {reason}\n", fold(&nodes)));
        }
        (out, err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| name.to_string()).collect()
    }

    #[test]
    fn identical_outputs_are_printed_once_under_their_nodes() {
        let reply = json!({"status": "ok", "logs": {
            "n1": [{"line": "hello"}, {"line": "world"}],
            "n2": [{"line": "other"}],
            "n3": [{"line": "hello"}, {"line": "world"}],
            "n4": []},
            "missing": {"n5": "node n5 has no log agent"}});
        let outputs = from_reply(reply.as_object().unwrap(), &nodes(&["n1", "n2", "n3", "n4", "n5"]));
        let (out, err) = outputs.console();
        assert_eq!(out, format!("{RULE}\nn[1,3] (2)\n{RULE}\nhello\nworld\n{RULE}\nn2 (1)\n{RULE}\nother\n"));
        assert_eq!(err, "warning: output of n5 not gathered: node n5 has no log agent\n");
        assert_eq!(outputs.json("n4"), json!(""));
        assert_eq!(outputs.json("n5"), Value::Null);
    }

    #[test]
    fn an_error_reply_leaves_every_node_without_output() {
        let reply = json!({"status": "error", "errno": 3, "reason": "node a has no log agent"});
        let outputs = from_reply(reply.as_object().unwrap(), &nodes(&["a", "b"]));
        assert!(outputs.text.is_empty());
        assert_eq!(outputs.missing["a"], "node a has no log agent");
        assert_eq!(outputs.console().1, "warning: output of a,b not gathered: node a has no log agent\n");
    }
}
