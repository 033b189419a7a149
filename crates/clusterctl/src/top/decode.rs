//! Decoding what `top` receives into plain values, without judging where it belongs: one stats
//! publication `(topic, payload)` into a [`Stat`], and a `nodes` reply into node states.
//!
//! Topics (circus-protocol.md §5): `stat.<component>[.<subtopic>]`, where the component is
//! `<node>-<watcher>` on a master's merged stream and `<watcher>` on a plain circusd's, and
//! `sockets` is special. Any other shape, a payload that is not a JSON object, or a payload
//! without the keys circus-top needs is `None`: the viewer ignores it.

use clusterd_protocol::names::validate_node_name;
use clusterd_protocol::Reply;
use serde_json::{Map, Value};

/// One decoded stats publication.
#[derive(Debug, Clone, PartialEq)]
pub enum Stat {
    /// `stat.<component>.<pid>`: one process.
    Process {
        /// The topic's second component (`first-dummy`, `dummy`, `first-circus`, `circus`).
        component: String,
        /// The payload's `node`, when it is a valid node name.
        node: Option<String>,
        /// The process's figures.
        process: ProcessStat,
    },
    /// `stat.<component>`: a watcher's aggregate, of which only the pid list matters here.
    Aggregate {
        /// The topic's second component.
        component: String,
        /// The payload's `node`, when it is a valid node name.
        node: Option<String>,
        /// The pids the aggregate covers (`None` when the list is missing or malformed).
        pids: Option<Vec<u64>>,
    },
    /// `stat.sockets.<n>`: one listening socket.
    Socket {
        /// The subtopic, unique per socket (`100007` on a master, the fd on a circusd).
        key: String,
        /// The payload's `node`, when it is a valid node name.
        node: Option<String>,
        /// `address`: `host:port` or a unix path (node-qualified on a master).
        address: String,
        /// `reads` since the previous publication.
        reads: Option<f64>,
    },
    /// `stat.sockets`: the total of all sockets.
    SocketTotal {
        /// `reads` summed over all sockets.
        reads: Option<f64>,
    },
}

/// What one `stat.<component>.<pid>` says about a process.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessStat {
    /// The subtopic (the pid).
    pub pid: u64,
    /// `name` when set (`circusd`, `circusd-stats`), else `cmdline`, else empty.
    pub name: String,
    /// CPU %, `None` for `"N/A"` or anything that is not a number.
    pub cpu: Option<f64>,
    /// Memory %, same rules.
    pub mem: Option<f64>,
    /// Age in seconds, same rules.
    pub age: Option<f64>,
}

/// The node a stats publication comes from (its payload's `node`, which the master splices in),
/// for `top --node`; `None` for a plain circusd's publications and the sockets total.
pub fn stat_node(topic: &[u8], payload: &[u8]) -> Option<String> {
    match stat(topic, payload)? {
        Stat::Process { node, .. } | Stat::Aggregate { node, .. } | Stat::Socket { node, .. } => node,
        Stat::SocketTotal { .. } => None,
    }
}

/// Decodes one publication; `None` for anything that is not a stats message of a known shape.
pub fn stat(topic: &[u8], payload: &[u8]) -> Option<Stat> {
    let topic = std::str::from_utf8(topic).ok()?;
    let rest = topic.strip_prefix("stat.")?;
    let (component, subtopic) = match rest.split_once('.') {
        Some((_, sub)) if sub.contains('.') => return None,
        Some((component, sub)) => (component, Some(sub)),
        None => (rest, None),
    };
    if component.is_empty() || subtopic == Some("") {
        return None;
    }
    let Ok(Value::Object(payload)) = serde_json::from_slice::<Value>(payload) else {
        return None;
    };
    let node = payload_node(&payload);
    if component == "sockets" {
        return socket(subtopic, node, &payload);
    }
    let component = component.to_string();
    let Some(subtopic) = subtopic else {
        let pids = payload.get("pid").and_then(pid_list);
        return Some(Stat::Aggregate { component, node, pids });
    };
    // circus-top keys processes by digit-only subtopics and dies on entries without these keys.
    let pid = subtopic.bytes().all(|b| b.is_ascii_digit()).then(|| subtopic.parse().ok()).flatten()?;
    if !["cpu", "mem", "age"].iter().all(|key| payload.contains_key(*key)) {
        return None;
    }
    let text = |key: &str| payload.get(key).and_then(Value::as_str).filter(|s| !s.is_empty());
    let name = text("name").or_else(|| text("cmdline")).unwrap_or_default().to_string();
    let process = ProcessStat {
        pid,
        name,
        cpu: number(&payload, "cpu"),
        mem: number(&payload, "mem"),
        age: number(&payload, "age"),
    };
    Some(Stat::Process { component, node, process })
}

/// `stat.sockets.<n>` needs `address` and `reads`; `stat.sockets` needs `addresses`.
fn socket(subtopic: Option<&str>, node: Option<String>, payload: &Map<String, Value>) -> Option<Stat> {
    match subtopic {
        Some(key) => {
            let address = payload.get("address")?.as_str()?.to_string();
            payload.contains_key("reads").then_some(())?;
            Some(Stat::Socket { key: key.to_string(), node, address, reads: number(payload, "reads") })
        }
        None => {
            payload.get("addresses")?;
            Some(Stat::SocketTotal { reads: number(payload, "reads") })
        }
    }
}

/// The payload's `node` if it is a string that is a valid node name.
fn payload_node(payload: &Map<String, Value>) -> Option<String> {
    let node = payload.get("node")?.as_str()?;
    validate_node_name(node).ok().map(|()| node.to_string())
}

/// A finite number, also from a numeric string; `None` for `"N/A"`, null and anything else.
fn number(payload: &Map<String, Value>, key: &str) -> Option<f64> {
    let value = match payload.get(key)? {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    value.is_finite().then_some(value)
}

/// An array of non-negative integers.
fn pid_list(value: &Value) -> Option<Vec<u64>> {
    value.as_array()?.iter().map(Value::as_u64).collect()
}

/// Where a stats component belongs: `(node, watcher)`, `None` for the node of a plain circusd.
///
/// The payload's `node` wins (and is stripped from the component when it prefixes it with `-`);
/// then the longest node name the master listed that prefixes it with `-`; then, once the stream
/// is known to be a master's, the part before the first `-`. Otherwise the component is a plain
/// circusd's watcher, `-` included (`my-app`).
pub fn locate<'a>(
    component: &str,
    payload_node: Option<&str>,
    known_nodes: impl Iterator<Item = &'a str>,
    master_stream: bool,
) -> (Option<String>, String) {
    let strip = |node: &str| component.strip_prefix(node)?.strip_prefix('-').filter(|w| !w.is_empty());
    if let Some(node) = payload_node {
        let watcher = strip(node).unwrap_or(component);
        return (Some(node.to_string()), watcher.to_string());
    }
    if let Some(node) = known_nodes.filter(|node| strip(node).is_some()).max_by_key(|node| node.len()) {
        return (Some(node.to_string()), strip(node).unwrap_or(component).to_string());
    }
    match component.split_once('-') {
        Some((node, watcher)) if master_stream && !node.is_empty() && !watcher.is_empty() => {
            (Some(node.to_string()), watcher.to_string())
        }
        _ => (None, component.to_string()),
    }
}

/// Node states from a `nodes` reply: `(name, state)` pairs, state `"?"` when missing. `None`
/// for an error reply (a plain circusd answers errno 2) or a reply without a `nodes` list.
pub fn node_states(reply: &Reply) -> Option<Vec<(String, String)>> {
    if reply.status() != Some("ok") {
        return None;
    }
    let nodes = reply.0.get("nodes")?.as_array()?;
    let states = nodes
        .iter()
        .filter_map(Value::as_object)
        .filter_map(|node| {
            let name = node.get("name")?.as_str()?.to_string();
            let state = node.get("state").and_then(Value::as_str).unwrap_or("?").to_string();
            Some((name, state))
        })
        .collect();
    Some(states)
}

#[cfg(test)]
#[path = "decode_tests.rs"]
pub(crate) mod tests;
