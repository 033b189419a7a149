//! The placement commands (docs/placement.md): `place NAME [--on SET] [--replicas N]
//! [--failover] [--strategy S] [--dry-run] [--start] -- CMD ARGS...`, `placements`,
//! `drain NODE` and `undrain NODE`. With `--json` each prints the master's reply.

use clusterd_protocol::Reply;
use serde_json::{json, Map, Value};

use super::{console_error, field, is_ok, request, Malformed};
use crate::pystr::py_str;
use clusterd_protocol::Request;

/// `place NAME [options] -- CMD ARGS...`.
#[derive(clap::Args, Debug, Clone)]
pub struct PlaceArgs {
    /// Watcher name
    pub name: String,
    /// Command line of the watcher (joined with spaces)
    #[arg(required = true, value_name = "CMD", last = true)]
    pub cmd: Vec<String>,
    /// Only on nodes of this node set (@eu, web*, all!second): properties.constraint
    #[arg(long = "on", value_name = "SET")]
    pub on: Option<String>,
    /// Copies on that many distinct nodes
    #[arg(long, value_name = "N")]
    pub replicas: Option<u64>,
    /// Move the copy of a node that stays down for failover_grace to another node
    #[arg(long)]
    pub failover: bool,
    /// least-loaded, round-robin or most-free-memory (default: the master's placement)
    #[arg(long, value_name = "S")]
    pub strategy: Option<String>,
    /// Show the choice and every node's score, change nothing
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    /// Start the watcher at once
    #[arg(long)]
    pub start: bool,
}

/// `drain NODE` / `undrain NODE`.
#[derive(clap::Args, Debug, Clone)]
pub struct DrainArgs {
    /// Node name
    #[arg(id = "node_name", value_name = "NODE")]
    pub node: String,
}

/// The `add` request without a node, with the placement properties.
pub fn place_request(args: &PlaceArgs) -> Request {
    let mut properties = Map::new();
    properties.insert("name".into(), args.name.clone().into());
    properties.insert("cmd".into(), args.cmd.join(" ").into());
    properties.insert("start".into(), args.start.into());
    if let Some(set) = &args.on {
        properties.insert("constraint".into(), set.clone().into());
    }
    if let Some(replicas) = args.replicas {
        properties.insert("replicas".into(), replicas.into());
    }
    if args.failover {
        properties.insert("failover".into(), true.into());
    }
    if let Some(strategy) = &args.strategy {
        properties.insert("placement".into(), strategy.clone().into());
    }
    if args.dry_run {
        properties.insert("dry_run".into(), true.into());
    }
    Request::new("add", properties)
}

/// `{"command": "drain"|"undrain", "properties": {"node": NODE}}`.
pub fn drain_request(command: &str, args: &DrainArgs) -> Request {
    request(command, json!({ "node": args.node }))
}

/// `placed on node2` (or `node1, node3`), or a dry run's scores, one node a line.
pub fn render_place(reply: &Reply) -> Result<String, Malformed> {
    if !is_ok(reply) {
        return Ok(console_error(reply));
    }
    if reply.0.get("dry_run") == Some(&Value::Bool(true)) {
        let mut lines = vec![match reply.0.get("chosen") {
            Some(Value::Array(nodes)) => format!("would place on {}", names(nodes)),
            _ => format!("would refuse: {}", py_str(field(reply, "refused")?)),
        }];
        for score in field(reply, "scores")?.as_array().ok_or_else(|| Malformed::field("scores"))? {
            let mark = if score["eligible"] == true { " " } else { "x" };
            lines.push(format!("{mark} {}: {}", py_str(&score["node"]), py_str(&score["why"])));
        }
        return Ok(lines.join("\n"));
    }
    let nodes = match reply.0.get("nodes") {
        Some(Value::Array(nodes)) => names(nodes),
        _ => py_str(field(reply, "node")?),
    };
    Ok(format!("placed on {nodes}"))
}

/// One line per placed watcher: `web: node1, node2 (replicas 2, failover, on @eu, epoch 4)`.
pub fn render_placements(reply: &Reply) -> Result<String, Malformed> {
    if !is_ok(reply) {
        return Ok(console_error(reply));
    }
    let list = field(reply, "placements")?.as_array().ok_or_else(|| Malformed::field("placements"))?;
    let mut lines = Vec::new();
    for entry in list {
        let mut notes = vec![format!("replicas {}", entry["replicas"])];
        if entry["failover"] == true {
            notes.push("failover".into());
        }
        if let Some(set) = entry["constraint"].as_str() {
            notes.push(format!("on {set}"));
        }
        notes.push(format!("epoch {}", entry["epoch"]));
        let nodes = entry["nodes"].as_array().map(|n| names(n)).unwrap_or_default();
        lines.push(format!("{}: {nodes} ({})", py_str(&entry["name"]), notes.join(", ")));
        if let Some(held) = entry["held"].as_str() {
            lines.push(format!("  held: {held}"));
        }
    }
    if let Some(Value::Array(drained)) = reply.0.get("drained") {
        if !drained.is_empty() {
            lines.push(format!("drained: {}", names(drained)));
        }
    }
    Ok(lines.join("\n"))
}

/// `drained node1: moved web to node2; api stayed (reason)`.
pub fn render_drain(reply: &Reply) -> Result<String, Malformed> {
    if !is_ok(reply) {
        return Ok(console_error(reply));
    }
    let node = py_str(field(reply, "node")?);
    let (Some(Value::Object(moved)), Some(Value::Object(stayed))) = (reply.0.get("moved"), reply.0.get("stayed"))
    else {
        return Ok(format!("undrained {node}"));
    };
    let mut lines = vec![format!("drained {node}")];
    lines.extend(moved.iter().map(|(watcher, to)| format!("moved {watcher} to {}", py_str(to))));
    lines.extend(stayed.iter().map(|(watcher, why)| format!("{watcher} stayed: {}", py_str(why))));
    Ok(lines.join("\n"))
}

fn names(nodes: &[Value]) -> String {
    nodes.iter().map(py_str).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::reply;

    #[test]
    fn replies_are_rendered() {
        assert_eq!(render_place(&reply(r#"{"status": "ok", "node": "node2"}"#)).unwrap(), "placed on node2");
        let dry = reply(
            r#"{"status": "ok", "dry_run": true, "chosen": ["b"], "scores": [
            {"node": "b", "eligible": true, "why": "cpu 1.0% + memory 0.5% = 1.5, 2 processes"},
            {"node": "a", "eligible": false, "why": "drained (unschedulable)"}]}"#,
        );
        assert_eq!(
            render_place(&dry).unwrap(),
            "would place on b\n  b: cpu 1.0% + memory 0.5% = 1.5, 2 processes\nx a: drained (unschedulable)"
        );
        let listed = reply(
            r#"{"status": "ok", "drained": ["c"], "placements": [{"name": "web", "nodes": ["a", "b"],
            "replicas": 2, "failover": true, "constraint": "@eu", "epoch": 4, "held": null}]}"#,
        );
        assert_eq!(
            render_placements(&listed).unwrap(),
            "web: a, b (replicas 2, failover, on @eu, epoch 4)\ndrained: c"
        );
        let drained = reply(r#"{"status": "ok", "node": "a", "moved": {"web": "b"}, "stayed": {"api": "no"}}"#);
        assert_eq!(render_drain(&drained).unwrap(), "drained a\nmoved web to b\napi stayed: no");
        assert_eq!(render_drain(&reply(r#"{"status": "ok", "node": "a"}"#)).unwrap(), "undrained a");
    }

    #[test]
    fn place_builds_an_add_without_a_node() {
        let args = PlaceArgs {
            name: "web".into(),
            cmd: vec!["sleep".into(), "3600".into()],
            on: Some("@eu".into()),
            replicas: Some(2),
            failover: true,
            strategy: Some("round-robin".into()),
            dry_run: false,
            start: true,
        };
        let request = place_request(&args);
        assert_eq!(request.command, "add");
        assert_eq!(
            Value::Object(request.properties),
            json!({"name": "web", "cmd": "sleep 3600", "start": true, "constraint": "@eu", "replicas": 2,
                "failover": true, "placement": "round-robin"})
        );
    }
}
