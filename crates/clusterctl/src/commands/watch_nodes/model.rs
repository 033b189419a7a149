//! The membership a template sees: the master's `nodes` reply cut down to the nodes of `--node`
//! and `--state`, each with its name, endpoint (and its host and port), tags and state.
//!
//! The node set is applied here, with the protocol crate's parser, to the nodes of each reply:
//! an expression like `web*` or `@eu` then also covers nodes that join later, and one that
//! matches nothing yet is an empty membership, not an error.

use clusterd_protocol::nodeset::{Member, NodeSet};
use clusterd_protocol::{Endpoint, Reply};
use serde_json::{json, Value};

/// The node states a master reports, in the order of `--state`'s help.
pub const STATES: [&str; 3] = ["alive", "suspect", "down"];

/// One node as the template sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedNode {
    /// The node's name.
    pub name: String,
    /// Its circusd command endpoint, as registered.
    pub endpoint: String,
    /// Its tags (node sets' `@tag`).
    pub tags: Vec<String>,
    /// `alive`, `suspect` or `down`.
    pub state: String,
}

impl WatchedNode {
    /// The template's view: `name`, `endpoint`, `host` and `port` (none for `ipc://`), `tags`,
    /// `state`.
    pub fn to_value(&self) -> Value {
        let parsed: Option<Endpoint> = self.endpoint.parse().ok();
        json!({
            "name": self.name,
            "endpoint": self.endpoint,
            "host": parsed.as_ref().and_then(Endpoint::host),
            "port": parsed.as_ref().and_then(Endpoint::port),
            "tags": self.tags,
            "state": self.state,
        })
    }
}

/// Which nodes to keep.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// `--node`, parsed; every node when `None`.
    pub nodes: Option<NodeSet>,
    /// `--state`; every state when empty.
    pub states: Vec<String>,
}

/// What a `nodes` reply gives: the matching nodes, sorted by name, and why the node set
/// selected none, when it did not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// The matching nodes.
    pub nodes: Vec<WatchedNode>,
    /// The node set's own message when it matched nothing (`node set 'web*' matches no node`).
    pub note: Option<String>,
}

/// Reads a `nodes` reply and keeps what `filter` selects.
///
/// # Errors
/// An error reply (its reason), or a reply without a `nodes` list (not a clusterd master).
pub fn membership(reply: &Reply, filter: &Filter) -> Result<Membership, String> {
    if reply.is_error() {
        let reason = reply.0.get("reason").and_then(Value::as_str).unwrap_or("no reason given");
        return Err(format!("nodes failed: {reason}"));
    }
    let Some(Value::Array(entries)) = reply.0.get("nodes") else {
        return Err("the reply to nodes has no 'nodes' list (is this a clusterd master?)".into());
    };
    let mut all: Vec<WatchedNode> = entries.iter().filter_map(node).collect();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    let mut note = None;
    if let Some(set) = &filter.nodes {
        let members: Vec<Member<'_>> = all.iter().map(|n| Member { name: &n.name, tags: &n.tags }).collect();
        let selected: Vec<String> = match set.resolve(&members) {
            Ok(names) => names.into_iter().map(String::from).collect(),
            Err(why) => {
                note = Some(why);
                Vec::new()
            }
        };
        all.retain(|n| selected.contains(&n.name));
    }
    if !filter.states.is_empty() {
        all.retain(|n| filter.states.contains(&n.state));
    }
    Ok(Membership { nodes: all, note })
}

/// One entry of the reply; entries without a name are skipped.
fn node(entry: &Value) -> Option<WatchedNode> {
    let text = |key: &str| entry.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
    let name = entry.get("name")?.as_str()?.to_string();
    let tags = match entry.get("tags") {
        Some(Value::Array(tags)) => tags.iter().filter_map(Value::as_str).map(String::from).collect(),
        _ => Vec::new(),
    };
    Some(WatchedNode { name, endpoint: text("endpoint"), tags, state: text("state") })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::reply;

    const REPLY: &str = r#"{"status": "ok", "nodes": [
        {"name": "web2", "endpoint": "tcp://10.0.0.2:5555", "state": "down", "tags": ["eu"]},
        {"name": "web1", "endpoint": "tcp://10.0.0.1:5555", "state": "alive", "tags": ["eu", "canary"]},
        {"name": "db", "endpoint": "ipc:///run/db.sock", "state": "suspect", "tags": []}
    ]}"#;

    fn names(membership: &Membership) -> Vec<&str> {
        membership.nodes.iter().map(|n| n.name.as_str()).collect()
    }

    fn filter(nodes: Option<&str>, states: &[&str]) -> Filter {
        let nodes = nodes.map(|expr| clusterd_protocol::nodeset::parse(expr).unwrap());
        Filter { nodes, states: states.iter().map(|s| s.to_string()).collect() }
    }

    #[test]
    fn every_node_sorted_by_name_without_a_filter() {
        let found = membership(&reply(REPLY), &Filter::default()).unwrap();
        assert_eq!(names(&found), ["db", "web1", "web2"]);
        assert_eq!(found.note, None);
        assert_eq!(found.nodes[1].tags, ["eu", "canary"]);
    }

    #[test]
    fn node_sets_and_states_filter() {
        assert_eq!(names(&membership(&reply(REPLY), &filter(Some("web*"), &[])).unwrap()), ["web1", "web2"]);
        assert_eq!(names(&membership(&reply(REPLY), &filter(Some("@eu"), &["alive"])).unwrap()), ["web1"]);
        let two = filter(None, &["alive", "suspect"]);
        assert_eq!(names(&membership(&reply(REPLY), &two).unwrap()), ["db", "web1"]);
        // A set that matches nothing yet is an empty membership with the reason, not an error.
        let none = membership(&reply(REPLY), &filter(Some("cache*"), &[])).unwrap();
        assert!(none.nodes.is_empty());
        assert!(none.note.unwrap().contains("matches no node"));
    }

    #[test]
    fn template_values_split_the_endpoint() {
        let found = membership(&reply(REPLY), &Filter::default()).unwrap();
        let web1 = found.nodes[1].to_value();
        assert_eq!(web1["host"], "10.0.0.1");
        assert_eq!(web1["port"], 5555);
        assert_eq!(web1["state"], "alive");
        let db = found.nodes[0].to_value();
        assert_eq!((&db["host"], &db["port"]), (&Value::Null, &Value::Null));
        assert_eq!(db["endpoint"], "ipc:///run/db.sock");
    }

    #[test]
    fn error_replies_and_other_servers_are_errors() {
        let err =
            membership(&reply(r#"{"status": "error", "reason": "unknown command", "errno": 2}"#), &Filter::default());
        assert_eq!(err.unwrap_err(), "nodes failed: unknown command");
        let err = membership(&reply(r#"{"status": "ok"}"#), &Filter::default()).unwrap_err();
        assert!(err.contains("no 'nodes' list"), "{err}");
    }
}
