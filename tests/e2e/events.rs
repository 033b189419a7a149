//! The master's merged event stream (circus-protocol.md §4): node events republished as
//! `watcher.<node>:<watcher>.<event>` with `"node"` added, read by stock `circusctl listen`, and
//! the master's own `cluster.<node>.<event>` (joined, left, alive/suspect/down).

use std::time::{Duration, Instant};

use cluster_e2e::background::Background;
use cluster_e2e::stream::{Message, Stream};
use cluster_e2e::{json, paths, CircusNode, Cluster, Master, TIMEOUT};

/// Asks the master for one more `first:dummy` process until its spawn event arrives on
/// `stream` (subscribed to `watcher.`): a SUB socket connects in the background, so the first
/// events may be missed. Returns the spawn event.
fn spawn_event(master: &Master, stream: &Stream) -> Message {
    let deadline = Instant::now() + TIMEOUT;
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        master.call("incr", json!({"name": "first:dummy"}));
        let tick = Instant::now() + Duration::from_secs(1);
        while let Some(m) = stream.next_before(tick) {
            if m.topic == "watcher.first:dummy.spawn" {
                return m;
            }
            seen.push(m.topic);
        }
    }
    panic!("no watcher.first:dummy.spawn on {} after incr; seen: {seen:?}", master.pubsub_endpoint)
}

/// Reads `stream` until `cluster.<node>.<event>` and checks its payload.
#[track_caller]
fn cluster_event(stream: &Stream, node: &str, event: &str) -> Message {
    let topic = format!("cluster.{node}.{event}");
    let m = stream.wait_for(&topic, |m| m.topic == topic);
    assert_eq!(m.payload["node"], node, "{m:?}");
    assert!(m.payload["time"].is_number(), "{m:?}");
    m
}

#[test]
fn watcher_events_are_republished_with_the_node() {
    let c = Cluster::start();
    let stream = Stream::subscribe(&c.master.pubsub_endpoint, &["watcher."]);
    let direct = Stream::subscribe(&c.first.pubsub_endpoint, &["watcher."]);
    let args = ["--endpoint", c.master.pubsub_endpoint.as_str(), "listen"];
    let mut listen = Background::spawn(&paths::venv_bin("circusctl"), &args);

    // Every subscriber connects in the background: incr until the master's stream carried a
    // spawn that the direct subscriber saw too, and circusctl listen printed one.
    let (mut ours, mut theirs, mut line) = (Vec::new(), Vec::new(), None);
    let pid_of = |m: &Message| m.payload["process_pid"].as_u64();
    let matched = |ours: &[Message], theirs: &[Message]| -> Option<(Message, Message)> {
        ours.iter().find_map(|o| theirs.iter().find(|t| pid_of(t) == pid_of(o)).map(|t| (o.clone(), t.clone())))
    };
    let deadline = Instant::now() + TIMEOUT;
    while (line.is_none() || matched(&ours, &theirs).is_none()) && Instant::now() < deadline {
        c.master.call("incr", json!({"name": "first:dummy"}));
        let tick = Instant::now() + Duration::from_secs(1);
        while let Some(m) = stream.next_before(tick) {
            assert!(m.topic.starts_with("watcher.first:dummy."), "only first:dummy changed: {m:?}");
            if m.topic == "watcher.first:dummy.spawn" {
                ours.push(m);
            }
        }
        theirs
            .extend(std::iter::from_fn(|| direct.next_before(Instant::now())).filter(|m| m.topic.ends_with(".spawn")));
        while let Some(l) = listen.line_before(Instant::now() + Duration::from_millis(100)) {
            if l.starts_with("b'watcher.first:dummy.spawn': ") {
                line = Some(l);
            }
        }
    }
    let line = line.expect("circusctl listen printed b'watcher.first:dummy.spawn'");
    assert!(line.contains("process_pid") && line.contains("first"), "{line}");
    let (event, own) = matched(&ours, &theirs)
        .unwrap_or_else(|| panic!("no spawn seen both on the master's stream {ours:?} and on first's {theirs:?}"));
    assert_eq!(event.payload["node"], "first", "{event:?}");
    assert!(event.payload["time"].is_number(), "{event:?}");
    let pid = pid_of(&event).unwrap_or_else(|| panic!("process_pid: {event:?}"));
    let pids = c.first.pids("dummy");
    assert!(pids.contains(&pid), "spawned pid {pid} is one of first's dummy processes {pids:?}");
    // Forwarded as first published it, with "node" added.
    assert_eq!(own.topic, "watcher.dummy.spawn", "{own:?}");
    let mut expected = own.payload.clone();
    expected["node"] = json!("first");
    assert_eq!(event.payload, expected, "the node published {own:?}");

    let entry = c.master.node_entry("first").expect("listed");
    assert!(entry["streams"]["events_forwarded"].as_u64() > Some(0), "first's events were counted: {entry}");
    let dstats = c.master.call("dstats", json!({}));
    assert!(dstats["streams"]["events_forwarded"].as_u64() > Some(0), "{dstats}");

    // circusctl's consumer unpacks exactly 2 frames and dies on anything else.
    assert!(!listen.exited(), "circusctl listen died");
    let stderr = listen.stop();
    assert!(!stderr.contains("Traceback"), "circusctl listen failed:\n{stderr}");
}

#[test]
fn register_and_unregister_produce_joined_and_left() {
    let first = CircusNode::start("first", &[("dummy", 1)]);
    let third = CircusNode::start("third", &[("w3", 1)]);
    let master = Master::start(&[&first]);
    let events = Stream::subscribe(&master.pubsub_endpoint, &["cluster.", "watcher."]);
    let stats = Stream::subscribe(&master.stats_endpoint, &["stat."]);
    spawn_event(&master, &events);
    stats.wait_for("first's stats", |m| m.topic.starts_with("stat.first-dummy"));

    let reply = master.call(
        "register_node",
        json!({"name": "third", "endpoint": third.endpoint, "stats_endpoint": third.stats_endpoint,
               "pubsub_endpoint": third.pubsub_endpoint}),
    );
    assert_eq!(reply["status"], "ok", "{reply}");
    cluster_event(&events, "third", "joined");
    let pid = third.pids("w3")[0];
    let m = stats.wait_for("third's stats after register_node", |m| m.topic == format!("stat.third-w3.{pid}"));
    assert_eq!(m.payload["node"], "third", "{m:?}");

    let reply = master.call("unregister_node", json!({"name": "third"}));
    assert_eq!(reply["status"], "ok", "{reply}");
    cluster_event(&events, "third", "left");
    // What was already on its way may still arrive for a moment; after that, nothing of third.
    stats.collect_for(Duration::from_secs(1));
    let direct = Stream::subscribe(&third.stats_endpoint, &["stat."]);
    let window = stats.collect_for(Duration::from_secs(3));
    let leaked: Vec<&String> = window.iter().map(|m| &m.topic).filter(|t| t.starts_with("stat.third-")).collect();
    assert!(leaked.is_empty(), "stats of an unregistered node still forwarded: {leaked:?}");
    assert!(window.iter().any(|m| m.topic.starts_with("stat.first-")), "first's stats keep flowing");
    let own: Vec<Message> = std::iter::from_fn(|| direct.next_before(Instant::now())).collect();
    assert!(own.iter().any(|m| m.topic.starts_with("stat.w3")), "third itself kept publishing: {own:?}");
}

#[test]
fn a_killed_node_turns_suspect_then_down_then_alive() {
    let mut c = Cluster::start();
    let events = Stream::subscribe(&c.master.pubsub_endpoint, &["cluster.", "watcher."]);
    spawn_event(&c.master, &events);
    c.master.wait_node_state("second", "alive");
    events.drain();

    c.second.kill9();
    let mut states = Vec::new();
    let down = events.wait_for("cluster.second.down", |m| {
        states.push(m.topic.clone());
        m.topic == "cluster.second.down"
    });
    assert_eq!(down.payload["node"], "second", "{down:?}");
    assert!(down.payload["time"].is_number(), "{down:?}");
    let cluster: Vec<&String> = states.iter().filter(|t| t.starts_with("cluster.")).collect();
    assert_eq!(cluster, ["cluster.second.suspect", "cluster.second.down"], "transitions, each once, in order");

    c.second.restart();
    cluster_event(&events, "second", "alive");
}

/// A subscriber that was waiting for the master (started before it, as `circusctl listen` or a
/// dashboard left running across a master restart) sees the start-up events.
#[test]
fn start_up_events_reach_a_subscriber_that_was_waiting() {
    let node = CircusNode::start("first", &[("dummy", 1)]);
    let pubsub = cluster_e2e::ports::free_endpoint();
    let stream = Stream::subscribe(&pubsub, &["cluster."]);
    let config = format!(
        "[cluster]\nendpoint = \"{{endpoint}}\"\nstats_endpoint = \"{{stats_endpoint}}\"\npubsub_endpoint = \"{pubsub}\"\n{}",
        cluster_e2e::master::node_section(&node)
    );
    let _master = Master::start_with_config(&config);
    let joined = stream.wait_for("cluster.first.joined", |m| m.topic == "cluster.first.joined");
    assert_eq!(joined.payload["node"], "first", "{:?}", joined.payload);
    assert_eq!(joined.payload["source"], "config", "{:?}", joined.payload);
    assert_eq!(joined.payload["endpoint"], node.endpoint.as_str(), "{:?}", joined.payload);
    stream.wait_for("cluster.first.alive", |m| m.topic == "cluster.first.alive");
}
