//! `listen [<topic>...] [--json]`: subscribes to an event stream (the master's merged events,
//! found through its `globaloptions` by [`crate::streams`], or any circusd's `pubsub_endpoint`
//! with `--pubsub-endpoint`) and prints one line per event until interrupted; with `--node`,
//! only the events of those nodes.
//!
//! Lines are `<node> <watcher> <event> <payload>` for the master's `watcher.<node>:<watcher>.<event>`,
//! `- <watcher> <event> <payload>` for a plain circusd's `watcher.<watcher>.<event>`,
//! `<node> (cluster) <event> <payload>` for the master's `cluster.<node>.<event>`, and
//! `<topic> <payload>` for anything else. The payload is printed as received.

use std::borrow::Cow;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clusterd_protocol::connection::Subscriber;
use clusterd_protocol::names::validate_node_name;
use clusterd_protocol::pyjson;
use serde_json::{json, Value};

use crate::error::CtlError;

/// How long a wait for the next event lasts before checking for Ctrl-C.
const SLICE: Duration = Duration::from_millis(250);

/// `listen` arguments (`--endpoint`, `--node` and `--json` are global options).
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Output, one line per event, flushed at once:
  <node> <watcher> <event> <payload>   watcher.<node>:<watcher>.<event> (a master)
  - <watcher> <event> <payload>        watcher.<watcher>.<event> (a plain circusd)
  <node> (cluster) <event> <payload>   cluster.<node>.<event> (joined, left, alive, suspect, down)
  <topic> <payload>                    anything else
With --json, one object per line: {\"topic\", \"node\", \"watcher\", \"event\", \"payload\"}
(null where the topic has no such part; the payload parsed, or its text if it is not JSON).

--endpoint is the master's command endpoint, as for every command [env: CLUSTERCTL_ENDPOINT]
[default: tcp://127.0.0.1:5558]: listen asks its globaloptions for the merged pubsub_endpoint.
--pubsub-endpoint reads another event stream instead (a circusd's, to watch one node).
--node SET prints only the events of those nodes (resolved once, at start). A command endpoint
that does not answer within --timeout fails with status 1. Ctrl-C stops (status 0).

Examples:
  clusterctl listen                             everything the master publishes
  clusterctl listen watcher.first: cluster.     node first's watchers, and node health
  clusterctl --node second listen               only second's events
  clusterctl listen --json | head -1            the next event as JSON")]
pub struct ListenArgs {
    /// Topic prefixes to subscribe to, e.g. `watcher.first:dummy.` or `cluster.` (everything
    /// when omitted)
    #[arg(value_name = "TOPIC")]
    pub topics: Vec<String>,
    /// The event stream to read instead of the one the master's globaloptions names
    #[arg(long = "pubsub-endpoint", value_name = "ENDPOINT")]
    pub pubsub_endpoint: Option<String>,
}

/// The subscriptions: the given prefixes, or `""` (everything) as circusctl.
pub fn topics(args: &ListenArgs) -> Vec<String> {
    if args.topics.is_empty() {
        vec![String::new()]
    } else {
        args.topics.clone()
    }
}

/// What an event topic says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic<'a> {
    /// `watcher.<node>:<watcher>.<event>` (node set) or `watcher.<watcher>.<event>`.
    Watcher {
        /// The node, on a master's stream.
        node: Option<&'a str>,
        /// The watcher's name.
        watcher: &'a str,
        /// `spawn`, `reap`, `kill`, `start`, ...
        event: &'a str,
    },
    /// `cluster.<node>.<event>`: the master's node health events.
    Cluster {
        /// The node concerned.
        node: &'a str,
        /// `joined`, `left`, `alive`, `suspect`, `down`.
        event: &'a str,
    },
    /// Any other topic.
    Other,
}

/// Splits an event topic. The event is the last `.` component; a node is the part of the
/// watcher component before a `:`, when it is a valid node name.
pub fn parse_topic(topic: &str) -> Topic<'_> {
    if let Some((middle, event)) = topic.strip_prefix("watcher.").and_then(|rest| rest.rsplit_once('.')) {
        if middle.is_empty() || event.is_empty() {
            return Topic::Other;
        }
        return match middle.split_once(':') {
            Some((node, watcher)) if validate_node_name(node).is_ok() && !watcher.is_empty() => {
                Topic::Watcher { node: Some(node), watcher, event }
            }
            _ => Topic::Watcher { node: None, watcher: middle, event },
        };
    }
    match topic.strip_prefix("cluster.").and_then(|rest| rest.split_once('.')) {
        Some((node, event)) if validate_node_name(node).is_ok() && !event.is_empty() && !event.contains('.') => {
            Topic::Cluster { node, event }
        }
        _ => Topic::Other,
    }
}

/// True when the event's topic names one of `nodes` (every event when `nodes` is `None`).
pub fn admits(topic: &str, nodes: Option<&[String]>) -> bool {
    let Some(nodes) = nodes else { return true };
    let node = match parse_topic(topic) {
        Topic::Watcher { node, .. } => node,
        Topic::Cluster { node, .. } => Some(node),
        Topic::Other => None,
    };
    node.is_some_and(|node| nodes.iter().any(|wanted| wanted == node))
}

/// The text line for one event.
pub fn text_line(topic: &str, payload: &str) -> String {
    let payload = one_line(payload);
    match parse_topic(topic) {
        Topic::Watcher { node, watcher, event } => format!("{} {watcher} {event} {payload}", node.unwrap_or("-")),
        Topic::Cluster { node, event } => format!("{node} (cluster) {event} {payload}"),
        Topic::Other => format!("{topic} {payload}"),
    }
}

/// The `--json` line for one event. A JSON payload is spliced in as received rather than
/// re-encoded, so that numbers keep every digit.
pub fn json_line(topic: &str, payload: &str) -> String {
    let (node, watcher, event) = match parse_topic(topic) {
        Topic::Watcher { node, watcher, event } => (node, Some(watcher), Some(event)),
        Topic::Cluster { node, event } => (Some(node), None, Some(event)),
        Topic::Other => (None, None, None),
    };
    let head = pyjson::dumps(&json!({ "topic": topic, "node": node, "watcher": watcher, "event": event }));
    let payload = match serde_json::from_str::<Value>(payload) {
        Ok(_) => one_line(payload.trim()),
        Err(_) => Cow::Owned(pyjson::dumps(&Value::String(payload.to_string()))),
    };
    format!("{}, \"payload\": {payload}}}", head.strip_suffix('}').unwrap_or(&head))
}

/// The payload on one line: as received, unless it spans lines (Circus never sends that); then
/// re-encoded compactly if it is JSON, else with its line breaks escaped.
fn one_line(payload: &str) -> Cow<'_, str> {
    if !payload.contains(['\n', '\r']) {
        return Cow::Borrowed(payload);
    }
    match serde_json::from_str::<Value>(payload) {
        Ok(value) => Cow::Owned(pyjson::dumps(&value)),
        Err(_) => Cow::Owned(payload.replace('\r', "\\r").replace('\n', "\\n")),
    }
}

/// Prints events from `endpoint` (only those of `nodes`, when given) until Ctrl-C (status 0)
/// or until stdout closes.
///
/// # Errors
/// A bad endpoint, a socket failure, or a closed stdout ([`CtlError::Io`], status 0 for a
/// broken pipe).
pub fn run(
    endpoint: &str,
    topics: &[String],
    nodes: Option<&[String]>,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), CtlError> {
    let subscriber = Subscriber::connect(endpoint, topics)?;
    let interrupted = Arc::new(AtomicBool::new(false));
    // Without the handler Ctrl-C would still stop us, but with status 130; if it cannot be
    // installed, that is what happens.
    let _ = signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(&interrupted));
    while !interrupted.load(Ordering::Relaxed) {
        let Some(frames) = subscriber.recv_timeout(SLICE)? else {
            continue;
        };
        let mut frames = frames.into_iter();
        let topic = frames.next().unwrap_or_default();
        let payload: Vec<u8> = frames.flatten().collect();
        let (topic, payload) = (String::from_utf8_lossy(&topic), String::from_utf8_lossy(&payload));
        if !admits(&topic, nodes) {
            continue;
        }
        let line = if json { json_line(&topic, &payload) } else { text_line(&topic, &payload) };
        writeln!(out, "{line}")?;
        out.flush()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_default_to_everything() {
        assert_eq!(topics(&ListenArgs { topics: vec![], pubsub_endpoint: None }), vec![String::new()]);
        let args = ListenArgs { topics: vec!["cluster.".into()], pubsub_endpoint: None };
        assert_eq!(topics(&args), vec!["cluster.".to_string()]);
    }

    #[test]
    fn topics_are_split() {
        let watcher = |node, watcher, event| Topic::Watcher { node, watcher, event };
        assert_eq!(parse_topic("watcher.first:dummy.spawn"), watcher(Some("first"), "dummy", "spawn"));
        assert_eq!(parse_topic("watcher.web-01_a:my-app.reap"), watcher(Some("web-01_a"), "my-app", "reap"));
        assert_eq!(parse_topic("watcher.my-app.kill"), watcher(None, "my-app", "kill"));
        assert_eq!(parse_topic("watcher.hook_x.hook_success"), watcher(None, "hook_x", "hook_success"));
        // Not a node name before the colon: the whole middle is the watcher.
        assert_eq!(parse_topic("watcher.a b:c.stop"), watcher(None, "a b:c", "stop"));
        assert_eq!(parse_topic("cluster.first.down"), Topic::Cluster { node: "first", event: "down" });
        assert_eq!(parse_topic("cluster.second-node.joined"), Topic::Cluster { node: "second-node", event: "joined" });
        for other in
            ["watcher.", "watcher.x", "watcher..spawn", "watcher.x.", "cluster.first", "cluster.a.b.c", "stat.x", ""]
        {
            assert_eq!(parse_topic(other), Topic::Other, "{other}");
        }
    }

    #[test]
    fn node_sets_filter_by_the_topics_node() {
        let second = ["second".to_string()];
        assert!(admits("watcher.second:dummy2.spawn", Some(&second)));
        assert!(admits("cluster.second.down", Some(&second)));
        assert!(!admits("watcher.first:dummy.spawn", Some(&second)));
        assert!(!admits("watcher.dummy.spawn", Some(&second)));
        assert!(!admits("other", Some(&second)));
        assert!(admits("watcher.first:dummy.spawn", None));
    }

    #[test]
    fn text_lines() {
        let spawn = r#"{"process_pid": 9470, "time": 1795304309.5, "node": "first"}"#;
        assert_eq!(text_line("watcher.first:dummy.spawn", spawn), format!("first dummy spawn {spawn}"));
        let reap = r#"{"process_pid": 8501, "time": 1795304333.916345, "exit_code": -15}"#;
        assert_eq!(text_line("watcher.my-app.reap", reap), format!("- my-app reap {reap}"));
        let down = r#"{"node": "first", "time": 1795304400.0}"#;
        assert_eq!(text_line("cluster.first.down", down), format!("first (cluster) down {down}"));
        assert_eq!(text_line("weird", "not json"), "weird not json");
        assert_eq!(text_line("x", "{\n  \"a\": 1\n}"), r#"x {"a": 1}"#);
        assert_eq!(text_line("x", "two\nlines"), r"x two\nlines");
    }

    #[test]
    fn json_lines() {
        let line = json_line("watcher.first:dummy.spawn", r#"{"process_pid": 9470, "time": 1.5}"#);
        assert_eq!(
            line,
            r#"{"topic": "watcher.first:dummy.spawn", "node": "first", "watcher": "dummy", "event": "spawn", "payload": {"process_pid": 9470, "time": 1.5}}"#
        );
        let line = json_line("watcher.dummy.stop", r#"{"time": 2.0}"#);
        assert!(line.contains(r#""node": null, "watcher": "dummy", "event": "stop""#), "{line}");
        let line = json_line("cluster.first.alive", r#"{"node": "first"}"#);
        assert!(line.contains(r#""node": "first", "watcher": null, "event": "alive""#), "{line}");
        let line = json_line("odd", "not json");
        assert_eq!(line, r#"{"topic": "odd", "node": null, "watcher": null, "event": null, "payload": "not json"}"#);
        // Every line is valid JSON on one line.
        let line = json_line("x\n", "{\"a\":\n1}");
        assert!(!line.contains('\n'), "{line}");
        let parsed: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["payload"]["a"], 1);
        // Numbers are kept digit for digit (serde_json's default float parsing is not exact).
        let line = json_line("cluster.a.down", r#"{"time": 1795315032.5024745}"#);
        assert!(line.ends_with(r#""payload": {"time": 1795315032.5024745}}"#), "{line}");
        let line = json_line("t", " [1, 2] ");
        assert!(line.ends_with(r#""payload": [1, 2]}"#), "{line}");
    }
}
