//! Cluster commands, answered by the master itself: `register_node`, `unregister_node`, `nodes`,
//! `nodelist`.

use clusterd_protocol::message::now;
use clusterd_protocol::names::escape_controls;
use clusterd_protocol::{Reply, Request};
use serde_json::{json, Map, Value};

use super::{console_error, field, is_ok, request, Malformed};
use crate::duration::age;
use crate::pystr::py_str;

/// `register_node <name> <endpoint> <stats_endpoint> [<pubsub_endpoint>]`.
#[derive(clap::Args, Debug)]
pub struct RegisterArgs {
    /// Node name
    pub name: String,
    /// The node's circusd command endpoint
    #[arg(id = "node_endpoint", value_name = "ENDPOINT")]
    pub endpoint: String,
    /// The node's stats endpoint (circusd-stats)
    pub stats_endpoint: String,
    /// The node's event endpoint (circusd's pubsub_endpoint)
    pub pubsub_endpoint: Option<String>,
    #[command(flatten)]
    pub secret: SecretArg,
}

/// `unregister_node <name>`.
#[derive(clap::Args, Debug)]
pub struct UnregisterArgs {
    /// Node name
    pub name: String,
    #[command(flatten)]
    pub secret: SecretArg,
}

/// `--secret`, for a master with `register_secret`. The environment variable is the better way:
/// a command line is visible to every user of the machine in `ps`.
#[derive(clap::Args, Debug)]
pub struct SecretArg {
    /// The master's register_secret, when it has one
    #[arg(long, value_name = "SECRET", env = SECRET_ENV, hide_env_values = true)]
    pub secret: Option<String>,
}

/// Environment variable read when `--secret` is not given.
pub const SECRET_ENV: &str = "CLUSTERCTL_SECRET";

impl SecretArg {
    fn add_to(&self, props: &mut Map<String, Value>) {
        if let Some(secret) = self.secret.as_deref().filter(|s| !s.is_empty()) {
            props.insert("secret".into(), json!(secret));
        }
    }
}

/// `{"name", "endpoint", "stats_endpoint", "pubsub_endpoint"?, "secret"?}`.
pub fn register_request(args: &RegisterArgs) -> Request {
    let mut props = Map::new();
    props.insert("name".into(), json!(args.name));
    props.insert("endpoint".into(), json!(args.endpoint));
    props.insert("stats_endpoint".into(), json!(args.stats_endpoint));
    if let Some(pubsub) = &args.pubsub_endpoint {
        props.insert("pubsub_endpoint".into(), json!(pubsub));
    }
    args.secret.add_to(&mut props);
    request("register_node", Value::Object(props))
}

/// `{"name", "secret"?}`.
pub fn unregister_request(args: &UnregisterArgs) -> Request {
    let mut props = Map::new();
    props.insert("name".into(), json!(args.name));
    args.secret.add_to(&mut props);
    request("unregister_node", Value::Object(props))
}

/// `registered <name> (<endpoint>)`, or `replaced ...` when a node of that name existed.
pub fn render_register(reply: &Reply) -> Result<String, Malformed> {
    if !is_ok(reply) {
        return Ok(console_error(reply));
    }
    let Value::Object(node) = field(reply, "node")? else {
        return Err(Malformed::field("node"));
    };
    let text = |key: &str| node.get(key).map(py_str).ok_or_else(|| Malformed::field(key));
    let verb = if reply.0.get("replaced") == Some(&Value::Bool(true)) { "replaced" } else { "registered" };
    Ok(format!("{verb} {} ({})", escape_controls(&text("name")?), escape_controls(&text("endpoint")?)))
}

/// `removed <name>`.
pub fn render_unregister(reply: &Reply) -> Result<String, Malformed> {
    if !is_ok(reply) {
        return Ok(console_error(reply));
    }
    Ok(match reply.0.get("removed") {
        Some(name) => format!("removed {}", py_str(name)),
        None => "ok".into(),
    })
}

/// `name: endpoint` lines sorted by name.
pub fn render_nodelist(reply: &Reply) -> Result<String, Malformed> {
    if !is_ok(reply) {
        return Ok(console_error(reply));
    }
    let Value::Object(nodes) = field(reply, "nodelist")? else {
        return Err(Malformed::field("nodelist"));
    };
    let mut names: Vec<&String> = nodes.keys().collect();
    names.sort();
    let line = |name: &str| format!("{}: {}", escape_controls(name), escape_controls(&py_str(&nodes[name])));
    Ok(names.iter().map(|name| line(name)).collect::<Vec<_>>().join("\n"))
}

/// Column headers of `nodes`.
const HEADERS: [&str; 8] = ["NAME", "STATE", "SOURCE", "ENDPOINT", "PUBSUB", "STATS", "LAST SEEN", "DROPPED"];

/// `nodes`: an aligned table, one row per node in reply order; ages are relative to the reply's
/// `time` (the master's clock). A stream endpoint the master learnt from the node's
/// `globaloptions` (`endpoint_sources`) is marked `(learnt)`; the others come from SOURCE.
pub fn render_nodes(reply: &Reply) -> Result<String, Malformed> {
    if !is_ok(reply) {
        return Ok(console_error(reply));
    }
    let Value::Array(nodes) = field(reply, "nodes")? else {
        return Err(Malformed::field("nodes"));
    };
    let reference = reply.0.get("time").and_then(Value::as_f64).unwrap_or_else(now);
    let mut rows = vec![HEADERS.map(String::from).to_vec()];
    for node in nodes {
        let Value::Object(node) = node else {
            return Err(Malformed::field("nodes"));
        };
        let cell = |key: &str| match node.get(key) {
            None | Some(Value::Null) => "-".to_string(),
            Some(value) => py_str(value),
        };
        let last_seen = match node.get("last_seen").and_then(Value::as_f64) {
            Some(seen) => format!("{} ago", age(reference - seen)),
            None => "never".into(),
        };
        let stream = |key: &str| {
            let learnt =
                node.get("endpoint_sources").and_then(|s| s.get(key)).and_then(Value::as_str) == Some("learnt");
            if learnt {
                format!("{} (learnt)", cell(key))
            } else {
                cell(key)
            }
        };
        // Stream messages the master could not keep up with (`streams.dropped`).
        let dropped = node.get("streams").and_then(|s| s.get("dropped")).map_or("-".to_string(), py_str);
        rows.push(vec![
            cell("name"),
            cell("state"),
            cell("source"),
            cell("endpoint"),
            stream("pubsub_endpoint"),
            stream("stats_endpoint"),
            last_seen,
            dropped,
        ]);
    }
    Ok(table(&rows) + &shared_registry(reply))
}

/// With `registry = "etcd"` (docs/ha.md), a last line: which master answered, which leads, and
/// whether the registry is stale; nothing with the state file.
fn shared_registry(reply: &Reply) -> String {
    let Some(registry) = reply.0.get("registry").filter(|r| r["kind"] == "etcd") else {
        return String::new();
    };
    let text = |key: &str| registry.get(key).and_then(Value::as_str).unwrap_or("-").to_string();
    let leader = if registry["leading"] == true { "this master".to_string() } else { text("leader") };
    let mut line = format!("master {} (registry: etcd), leader: {leader}", text("master"));
    if registry["stale"] == true {
        line.push_str(&format!("; registry stale ({}): registrations refused", text("stale_reason")));
    }
    format!("\n{}", escape_controls(&line))
}

/// Rows aligned in columns two spaces apart, without trailing spaces. Control characters in
/// cells are escaped (`\n`, `\u{1b}`): a name or endpoint could otherwise break the table or
/// send escape sequences to the terminal.
fn table(rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> =
        rows.iter().map(|row| row.iter().map(|cell| escape_controls(cell).into_owned()).collect()).collect();
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|i| rows.iter().filter_map(|row| row.get(i)).map(|cell| cell.chars().count()).max().unwrap_or(0))
        .collect();
    let lines: Vec<String> = rows
        .iter()
        .map(|row| {
            let cells: Vec<String> =
                row.iter().enumerate().map(|(i, cell)| format!("{cell:<width$}", width = widths[i])).collect();
            cells.join("  ").trim_end().to_string()
        })
        .collect();
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::super::reply;
    use super::*;

    #[test]
    fn nodes_print_an_aligned_table() {
        let text = r#"{"status": "ok", "time": 1000.0, "nodes": [
            {"name": "first", "endpoint": "tcp://127.0.0.1:5555", "pubsub_endpoint": "tcp://127.0.0.1:5556", "stats_endpoint": "tcp://127.0.0.1:5557", "state": "up", "source": "static", "last_seen": 999.6, "rtt_ms": 0.8, "missed_probes": 0, "streams": {"stats_forwarded": 9, "dropped": 2}},
            {"name": "second-node", "endpoint": "tcp://10.0.0.2:6555", "pubsub_endpoint": null, "stats_endpoint": "tcp://10.0.0.2:6557", "state": "down", "source": "registered", "last_seen": null, "rtt_ms": null, "missed_probes": 3},
            {"name": "third", "endpoint": "e", "pubsub_endpoint": "p", "stats_endpoint": "s", "state": "up", "source": "static", "last_seen": 807.0, "rtt_ms": 1.0, "missed_probes": 0}
        ], "id": "x"}"#;
        let expected = "\
NAME         STATE  SOURCE      ENDPOINT              PUBSUB                STATS                 LAST SEEN  DROPPED
first        up     static      tcp://127.0.0.1:5555  tcp://127.0.0.1:5556  tcp://127.0.0.1:5557  0.4s ago   2
second-node  down   registered  tcp://10.0.0.2:6555   -                     tcp://10.0.0.2:6557   never      -
third        up     static      e                     p                     s                     3m13s ago  -";
        assert_eq!(render_nodes(&reply(text)).unwrap(), expected);
        let empty = render_nodes(&reply(r#"{"status": "ok", "nodes": []}"#)).unwrap();
        assert_eq!(empty, "NAME  STATE  SOURCE  ENDPOINT  PUBSUB  STATS  LAST SEEN  DROPPED");
        assert!(render_nodes(&reply(r#"{"status": "ok"}"#)).is_err());
    }

    #[test]
    fn the_leader_is_named_with_a_shared_registry() {
        let nodes = r#""nodes": [{"name": "a", "endpoint": "e", "state": "alive", "source": "registered"}]"#;
        let leading = format!(
            r#"{{"status": "ok", "time": 1.0, {nodes}, "registry": {{"kind": "etcd", "master": "m1", "leader": "m1", "leading": true, "stale": false}}}}"#
        );
        let table = render_nodes(&reply(&leading)).unwrap();
        assert_eq!(table.lines().last().unwrap(), "master m1 (registry: etcd), leader: this master");
        let stale = format!(
            r#"{{"status": "ok", "time": 1.0, {nodes}, "registry": {{"kind": "etcd", "master": "m2", "leader": "m1", "leading": false, "stale": true, "stale_reason": "no keepalive answered for 5s"}}}}"#
        );
        let table = render_nodes(&reply(&stale)).unwrap();
        assert_eq!(
            table.lines().last().unwrap(),
            "master m2 (registry: etcd), leader: m1; registry stale (no keepalive answered for 5s): registrations refused"
        );
        let file = format!(r#"{{"status": "ok", "time": 1.0, {nodes}, "registry": {{"kind": "file"}}}}"#);
        assert_eq!(render_nodes(&reply(&file)).unwrap().lines().count(), 2);
    }

    #[test]
    fn learnt_endpoints_are_marked() {
        let text = r#"{"status": "ok", "time": 10.0, "nodes": [{"name": "a", "endpoint": "e", "pubsub_endpoint": "p",
            "stats_endpoint": "s", "state": "alive", "source": "config", "last_seen": 9.0,
            "endpoint_sources": {"endpoint": "config", "pubsub_endpoint": "learnt", "stats_endpoint": "config"}}]}"#;
        let table = render_nodes(&reply(text)).unwrap();
        assert_eq!(table.lines().nth(1).unwrap(), "a     alive  config  e         p (learnt)  s      1.0s ago   -");
    }

    #[test]
    fn registration_and_nodelist() {
        let text = r#"{"status": "ok", "time": 1.0, "node": {"name": "second", "endpoint": "tcp://127.0.0.1:6555"}, "replaced": false, "id": "x"}"#;
        assert_eq!(render_register(&reply(text)).unwrap(), "registered second (tcp://127.0.0.1:6555)");
        let text = text.replace("false", "true");
        assert_eq!(render_register(&reply(&text)).unwrap(), "replaced second (tcp://127.0.0.1:6555)");
        let err = r#"{"status": "error", "reason": "invalid endpoint 'x'", "errno": 3}"#;
        assert_eq!(render_register(&reply(err)).unwrap(), "error: invalid endpoint 'x'");
        assert_eq!(render_unregister(&reply(r#"{"status": "ok", "removed": "second"}"#)).unwrap(), "removed second");
        let list =
            r#"{"status": "ok", "nodelist": {"second": "tcp://127.0.0.1:6555", "first": "tcp://127.0.0.1:5555"}}"#;
        assert_eq!(render_nodelist(&reply(list)).unwrap(), "first: tcp://127.0.0.1:5555\nsecond: tcp://127.0.0.1:6555");
    }

    #[test]
    fn control_characters_are_escaped_in_tables_and_lines() {
        let text = r#"{"status": "ok", "time": 1000.0, "nodes": [
            {"name": "evil", "endpoint": "ipc:///tmp/a\nclusterd::audit forged", "pubsub_endpoint": "\u001b[2J", "stats_endpoint": "s", "state": "up", "source": "registered", "last_seen": null}
        ]}"#;
        let table = render_nodes(&reply(text)).unwrap();
        assert_eq!(table.lines().count(), 2, "{table}");
        assert!(table.contains(r"ipc:///tmp/a\nclusterd::audit forged") && table.contains(r"\u{1b}[2J"), "{table}");
        assert!(!table.contains('\u{1b}'), "{table:?}");
        let list = r#"{"status": "ok", "nodelist": {"evil": "ipc:///tmp/a\nb"}}"#;
        assert_eq!(render_nodelist(&reply(list)).unwrap(), r"evil: ipc:///tmp/a\nb");
        let text = r#"{"status": "ok", "node": {"name": "x", "endpoint": "ipc:///a\rb"}}"#;
        assert_eq!(render_register(&reply(text)).unwrap(), r"registered x (ipc:///a\rb)");
    }
}
