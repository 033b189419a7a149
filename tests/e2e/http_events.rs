//! `GET /api/events` (server-sent events) against real circusd nodes: a full snapshot first,
//! then only changes (a node killed with `kill -9` turns `down`, a stopped watcher's row
//! changes); an open stream never keeps clusterd from exiting.

use std::time::{Duration, Instant};

use cluster_e2e::http::{dashboard_cluster, post, EventStream};
use cluster_e2e::{Value, TIMEOUT};

/// Reads events until one named `name` satisfies `pick`; panics after [`TIMEOUT`].
fn wait_event(events: &mut EventStream, name: &str, pick: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + TIMEOUT;
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        let Some((event, data)) = events.next(Duration::from_secs(1)) else {
            assert!(!events.ended, "the stream ended; seen: {seen:?}");
            continue;
        };
        let data: Value = serde_json::from_str(&data).expect("JSON data");
        if event == name && pick(&data) {
            return data;
        }
        seen.push(event);
    }
    panic!("no {name} event came within {TIMEOUT:?}; seen: {seen:?}");
}

#[test]
fn a_snapshot_comes_first_then_changes() {
    let (mut cluster, addr) = dashboard_cluster("");
    let mut events = EventStream::open(&addr, "/api/events");
    let (name, data) = events.next(Duration::from_secs(10)).expect("a first event");
    assert_eq!(name, "snapshot");
    let snapshot: Value = serde_json::from_str(&data).expect("JSON");
    let nodes: Vec<&str> = snapshot["nodes"].as_array().unwrap().iter().filter_map(|n| n["name"].as_str()).collect();
    assert_eq!(nodes, ["first", "second"]);
    assert!(snapshot["watchers"].is_array() && snapshot["events"].is_array(), "{snapshot}");

    // Watcher rows change in place: the stop shows as a `watcher` event with the new status.
    assert_eq!(post(&addr, "/api/nodes/second/watchers/dummy2/stop", &[]).status, 200);
    wait_event(&mut events, "watcher", |w| {
        w["node"] == "second" && w["watcher"] == "dummy2" && w["status"] == "stopped"
    });
    wait_event(&mut events, "event", |e| e["node"] == "second" && e["event"] == "stop");

    cluster.first.kill9();
    wait_event(&mut events, "node", |n| n["name"] == "first" && n["state"] == "down");
}

#[test]
fn an_open_stream_does_not_keep_clusterd_from_exiting() {
    let (mut cluster, addr) = dashboard_cluster("");
    let mut events = EventStream::open(&addr, "/api/events");
    assert_eq!(events.next(Duration::from_secs(10)).map(|(name, _)| name).as_deref(), Some("snapshot"));
    cluster.master.signal(libc::SIGTERM);
    assert_eq!(cluster.master.wait_exit(Duration::from_secs(10)), Some(0), "{}", cluster.master.stderr());
    let deadline = Instant::now() + Duration::from_secs(5);
    while !events.ended && Instant::now() < deadline {
        events.next(Duration::from_millis(200));
    }
    assert!(events.ended, "the event stream is closed once clusterd is gone");
}
