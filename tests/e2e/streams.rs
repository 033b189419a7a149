//! The master's merged stats stream (circus-protocol.md §5.3): every node's circusd-stats
//! republished as `stat.<node>-<watcher>[.<pid>]` with `"node"` added, the circus pseudo-watcher
//! as `stat.<node>-circus`, 2 frames a message, sockets merged, nodes that restart coming back on
//! both streams by themselves, and the stream counters in `nodes` and `dstats`.

use std::time::{Duration, Instant};

use cluster_e2e::cli::python;
use cluster_e2e::stream::{Message, Stream};
use cluster_e2e::{json, Cluster, Value};

/// Per-pid keys circus-top's painter reads; a missing one kills it (§5.2).
const PER_PID_KEYS: [&str; 5] = ["pid", "name", "cpu", "mem", "age"];

/// How long after a restarted node's circusd-stats first publishes the master may take to
/// forward its stats: the issue's "~3 s", plus one stats interval of slack on a busy machine.
const COMEBACK: Duration = Duration::from_secs(4);

/// The number after the last `.` of a 3-component topic.
fn subtopic(topic: &str) -> Option<u64> {
    let parts: Vec<&str> = topic.split('.').collect();
    (parts.len() == 3).then(|| parts[2].parse().ok()).flatten()
}

fn sorted_pids(value: &Value) -> Vec<u64> {
    let mut pids: Vec<u64> = value.as_array().map(|a| a.iter().filter_map(Value::as_u64).collect()).unwrap_or_default();
    pids.sort_unstable();
    pids
}

fn keys(payload: &Value) -> Vec<String> {
    let mut keys: Vec<String> = payload.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
    keys.sort();
    keys
}

/// Subscribes with pyzmq exactly as circus-top does and returns, for every topic received within
/// `seconds` (each stats cycle is 1 s), the distinct frame counts of its messages.
/// [`cluster_e2e::stream::Stream`] joins the payload frames, so it cannot tell.
fn frame_counts(endpoint: &str, prefix: &str, seconds: u32) -> Value {
    python(&format!(
        r#"
import time, zmq
sub = zmq.Context().socket(zmq.SUB)
sub.setsockopt(zmq.LINGER, 0)
sub.setsockopt(zmq.SUBSCRIBE, {prefix:?}.encode())
sub.connect({endpoint:?})
counts = {{}}
deadline = time.time() + {seconds}
while time.time() < deadline:
    if sub.poll(100):
        frames = sub.recv_multipart()
        seen = counts.setdefault(frames[0].decode("utf-8", "replace"), [])
        if len(frames) not in seen:
            seen.append(len(frames))
sub.close()
print(json.dumps(counts))
"#
    ))
}

/// Asserts what circus-top needs of every topic it was sent: 2 frames, 2 or 3 components.
fn assert_circus_top_readable(counts: &Value) {
    let counts = counts.as_object().expect("object");
    assert!(!counts.is_empty(), "nothing received");
    for (topic, frames) in counts {
        assert_eq!(frames, &json!([2]), "{topic}: every message is exactly 2 frames");
        let parts = topic.split('.').count();
        assert!(parts == 2 || parts == 3, "{topic}: circus-top drops topics without 2 or 3 components");
    }
}

#[test]
fn stats_are_merged_with_node_prefixed_topics() {
    let c = Cluster::start();
    let stream = Stream::subscribe(&c.master.stats_endpoint, &["stat."]);
    let direct = Stream::subscribe(&c.first.stats_endpoint, &["stat."]);
    let (first_pids, second_pids) = (c.first.pids("dummy"), c.second.pids("dummy2"));
    let circusd = c.first.pid().expect("first runs");
    let mut wanted: Vec<String> =
        ["stat.first-dummy", "stat.second-dummy2", "stat.first-circus", "stat.second-circus"].map(String::from).into();
    wanted.push(format!("stat.first-circus.{circusd}"));
    wanted.extend(first_pids.iter().map(|p| format!("stat.first-dummy.{p}")));
    wanted.extend(second_pids.iter().map(|p| format!("stat.second-dummy2.{p}")));
    let seen = stream.wait_topics(&wanted);

    for (topic, Message { payload, .. }) in &seen {
        let watcher = topic.split('.').nth(1).unwrap_or_default();
        let node = watcher.split('-').next().unwrap_or_default();
        assert!(node == "first" || node == "second", "{topic}: not node-prefixed ({payload})");
        assert!(watcher.contains('-'), "{topic}: the node is joined with '-' to the watcher");
        assert_eq!(payload["node"], node, "{topic}: payload names its node: {payload}");
        if let Some(pid) = subtopic(topic) {
            for key in PER_PID_KEYS {
                assert!(payload.get(key).is_some(), "{topic}: circus-top needs '{key}': {payload}");
            }
            assert_eq!(payload["pid"], pid, "{topic}: {payload}");
        } else {
            for key in ["cpu", "mem", "age"] {
                assert!(payload.get(key).is_some(), "{topic}: circus-top needs '{key}': {payload}");
            }
        }
    }
    assert_eq!(seen[&format!("stat.first-circus.{circusd}")].payload["name"], "circusd");
    assert_eq!(sorted_pids(&seen["stat.first-dummy"].payload["pid"]), first_pids, "{:?}", seen["stat.first-dummy"]);
    assert_eq!(sorted_pids(&seen["stat.second-dummy2"].payload["pid"]), second_pids);
    // Payloads are forwarded as the node published them, with "node" added.
    let pid = first_pids[0];
    let own = direct.wait_topics(&[format!("stat.dummy.{pid}"), "stat.dummy".into()]);
    for (theirs, ours) in [
        (format!("stat.dummy.{pid}"), format!("stat.first-dummy.{pid}")),
        ("stat.dummy".into(), "stat.first-dummy".into()),
    ] {
        let mut expected = keys(&own[&theirs].payload);
        expected.push("node".into());
        expected.sort();
        assert_eq!(keys(&seen[&ours].payload), expected, "{ours} vs the node's {theirs}: {:?}", own[&theirs]);
    }
    // Nothing leaks through unprefixed (the nodes' own `stat.dummy...` topics).
    assert!(!seen.keys().any(|t| t.starts_with("stat.dummy") || t.starts_with("stat.circus")), "{:?}", seen.keys());

    assert_circus_top_readable(&frame_counts(&c.master.stats_endpoint, "stat.", 3));
}

#[test]
fn node_sockets_are_merged_into_one_sockets_family() {
    let socket = |port: u16| format!("\n[socket:web]\nhost = 127.0.0.1\nport = {port}\n");
    let (p1, p2) = (cluster_e2e::ports::free_port(), cluster_e2e::ports::free_port());
    let first = cluster_e2e::CircusNode::start_with("first", &[("dummy", 1)], &socket(p1));
    let second = cluster_e2e::CircusNode::start_with("second", &[("dummy2", 1)], &socket(p2));
    let master = cluster_e2e::Master::start(&[&first, &second]);
    let stream = Stream::subscribe(&master.stats_endpoint, &["stat."]);
    let (a1, a2) = (format!("first/127.0.0.1:{p1}"), format!("second/127.0.0.1:{p2}"));

    let one = stream.wait_for(&format!("a stat.sockets.<n> for {a1}"), |m| m.payload["address"] == a1.as_str());
    let two = stream.wait_for(&format!("a stat.sockets.<n> for {a2}"), |m| m.payload["address"] == a2.as_str());
    for m in [&one, &two] {
        assert!(m.topic.starts_with("stat.sockets."), "{m:?}");
        assert!(subtopic(&m.topic).is_some(), "circus-top needs a numeric subtopic: {m:?}");
        assert!(m.payload["reads"].is_u64(), "{m:?}");
    }
    assert_ne!(one.topic, two.topic, "each node's socket has its own subtopic");

    let total = stream.wait_for("one stat.sockets total listing both nodes' sockets", |m| {
        let addresses = m.payload["addresses"].as_array().cloned().unwrap_or_default();
        m.topic == "stat.sockets" && addresses.contains(&json!(a1)) && addresses.contains(&json!(a2))
    });
    assert!(total.payload["reads"].is_u64(), "{total:?}");
    // No per-node sockets family: circus-top would paint it as a process table and crash.
    let later = stream.collect_for(Duration::from_secs(2));
    assert!(later.iter().any(|m| m.topic.starts_with("stat.sockets")), "socket stats keep flowing");
    for m in &later {
        assert!(!m.topic.contains("-sockets"), "{m:?}");
    }

    // A node that leaves takes its sockets out of the family and of the total.
    let reply = master.call("unregister_node", json!({"name": "second"}));
    assert_eq!(reply["status"], "ok", "{reply}");
    stream.collect_for(Duration::from_secs(1));
    let window = stream.collect_for(Duration::from_secs(3));
    let totals: Vec<&Message> = window.iter().filter(|m| m.topic == "stat.sockets").collect();
    assert!(!totals.is_empty(), "first's socket total keeps flowing: {window:?}");
    for m in window.iter().filter(|m| m.topic.starts_with("stat.sockets")) {
        assert!(!m.payload.to_string().contains(&a2), "second's socket after unregister_node: {m:?}");
    }
}

#[test]
fn restarted_node_comes_back_on_both_streams_by_itself() {
    let mut c = Cluster::start();
    let stream = Stream::subscribe(&c.master.stats_endpoint, &["stat."]);
    let events = Stream::subscribe(&c.master.pubsub_endpoint, &["watcher."]);
    let old = c.first.pids("dummy");
    stream.wait_topics(&[format!("stat.first-dummy.{}", old[0])]);

    c.first.kill9();
    // The other node keeps flowing while first is down (the master is not touched from here on).
    stream.drain();
    stream.wait_for("second's stats while first is dead", |m| m.topic.starts_with("stat.second-dummy2."));

    let direct = Stream::subscribe(&c.first.stats_endpoint, &["stat."]);
    c.first.restart();
    let new = c.first.pids("dummy");
    assert!(new.iter().all(|p| !old.contains(p)), "new processes: {old:?} then {new:?}");
    let from_node = direct.wait_for("first's own circusd-stats to publish its new pid", |m| {
        subtopic(&m.topic).is_some_and(|p| m.topic.starts_with("stat.dummy.") && new.contains(&p))
    });
    let via_master = stream.wait_for("first's new pid on the master's stream", |m| {
        subtopic(&m.topic).is_some_and(|p| m.topic.starts_with("stat.first-dummy.") && new.contains(&p))
    });
    assert_eq!(via_master.payload["node"], "first", "{via_master:?}");
    let lag = via_master.at.saturating_duration_since(from_node.at);
    assert!(lag <= COMEBACK, "the master forwarded first's stats {lag:?} after the node published them");
    // Events too: a process spawned on the node (asked of the node itself, not through the
    // master) shows on the master's event stream.
    let deadline = Instant::now() + COMEBACK;
    let spawn = loop {
        let reply = c.first.call("incr", json!({"name": "dummy"}));
        let tick = Instant::now() + Duration::from_secs(1);
        if let Some(m) =
            std::iter::from_fn(|| events.next_before(tick)).find(|m| m.topic == "watcher.first:dummy.spawn")
        {
            break m;
        }
        let late = Instant::now() >= deadline;
        assert!(
            !late,
            "no watcher.first:dummy.spawn on the master {COMEBACK:?} after first's stats came back: {reply}"
        );
    };
    assert_eq!(spawn.payload["node"], "first", "{spawn:?}");
    let pid = spawn.payload["process_pid"].as_u64().unwrap_or_default();
    assert!(c.first.pids("dummy").contains(&pid), "{spawn:?}");

    // And the old pids are gone from the master's stream: a full cycle shows only new ones.
    let cycle = stream.collect_for(Duration::from_millis(2500));
    let stale: Vec<&String> =
        cycle.iter().map(|m| &m.topic).filter(|t| old.iter().any(|p| **t == format!("stat.first-dummy.{p}"))).collect();
    assert!(stale.is_empty(), "stats of killed processes still forwarded: {stale:?}");
}

#[test]
fn stream_counters_in_nodes_and_dstats() {
    let c = Cluster::start();
    let stream = Stream::subscribe(&c.master.stats_endpoint, &["stat."]);
    stream.wait_topics(&["stat.first-dummy".to_string(), "stat.second-dummy2".to_string()]);

    for node in ["first", "second"] {
        let entry = c.master.node_entry(node).expect("listed");
        let counters = &entry["streams"];
        assert!(counters["stats_forwarded"].as_u64() > Some(0), "{node}: stats were forwarded: {entry}");
        assert!(counters["events_forwarded"].is_u64(), "{node}: {entry}");
        assert!(counters["dropped"].is_u64(), "{node}: {entry}");
    }
    let dstats = c.master.call("dstats", json!({}));
    let totals = &dstats["streams"];
    assert!(totals["stats_forwarded"].as_u64() > Some(0), "{dstats}");
    assert!(totals["events_forwarded"].is_u64(), "{dstats}");
    assert_eq!(totals["dropped"], 0, "nothing is dropped at this rate: {dstats}");
}

/// A node declared with its command endpoint only: the master learns both stream endpoints from
/// the node's `globaloptions`, says so in `nodes`, and forwards the node's stats and events.
#[test]
fn stream_endpoints_missing_from_the_config_are_learnt() {
    let first = cluster_e2e::CircusNode::start("first", &[("dummy", 1)]);
    let config = format!("{}\n[node.first]\nendpoint = \"{}\"\n", cluster_e2e::master::CLUSTER_SECTION, first.endpoint);
    let master = cluster_e2e::Master::start_with_config(&config);
    let entry = cluster_e2e::wait_for("both stream endpoints learnt", || {
        let entry = master.node_entry("first").ok_or("no entry for first")?;
        if entry["stats_endpoint"].is_string() && entry["pubsub_endpoint"].is_string() {
            Ok(entry)
        } else {
            Err(format!("not yet: {entry}"))
        }
    });
    assert_eq!(entry["stats_endpoint"], first.stats_endpoint.as_str(), "{entry}");
    assert_eq!(entry["pubsub_endpoint"], first.pubsub_endpoint.as_str(), "{entry}");
    assert_eq!(
        entry["endpoint_sources"],
        json!({"endpoint": "config", "pubsub_endpoint": "learnt", "stats_endpoint": "learnt"}),
        "{entry}"
    );
    let stats = Stream::subscribe(&master.stats_endpoint, &["stat.first-dummy"]);
    stats.wait_for("first's stats on the merged stream", |m| m.payload["node"] == "first");
    let table = cluster_e2e::cli::clusterctl(&["--endpoint", &master.endpoint, "nodes"]);
    let row = table.ok().lines().find(|l| l.starts_with("first ")).unwrap_or_default().to_string();
    assert!(row.contains(&format!("{} (learnt)", first.stats_endpoint)), "{row}");
    assert!(row.contains(&format!("{} (learnt)", first.pubsub_endpoint)), "{row}");
}
