use std::collections::BTreeMap;

use super::*;

fn statuses(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(w, s)| (w.to_string(), s.to_string())).collect()
}

fn process(view: &ClusterView, node: &str, watcher: &str, pid: u64, cpu: f64, mem: &str) {
    let topic = format!("stat.{node}-{watcher}.{pid}");
    let payload = format!(r#"{{"pid": {pid}, "cpu": {cpu}, "mem_info1": "{mem}", "age": 1.0, "node": "{node}"}}"#);
    view.on_stat(node, topic.as_bytes(), payload.as_bytes());
}

fn aggregate(view: &ClusterView, node: &str, watcher: &str, pids: &[u64]) {
    let topic = format!("stat.{node}-{watcher}");
    let payload = format!(r#"{{"pid": {pids:?}, "cpu": 0.0, "node": "{node}"}}"#);
    view.on_stat(node, topic.as_bytes(), payload.as_bytes());
}

#[test]
fn stats_give_processes_cpu_and_memory_per_watcher() {
    let view = ClusterView::default();
    let mut version = view.changes();
    view.set_statuses("first", &statuses(&[("dummy", "active"), ("idle", "stopped")]));
    assert!(version.has_changed().unwrap(), "new watchers are a change");
    version.borrow_and_update();
    process(&view, "first", "dummy", 10, 1.5, "1K");
    process(&view, "first", "dummy", 11, 2.0, "2K");
    aggregate(&view, "first", "dummy", &[10, 11]);
    assert!(!version.has_changed().unwrap(), "stats are read on the reader's clock");
    let rows = view.watchers();
    assert_eq!(rows.len(), 2);
    let dummy = &rows[0];
    assert_eq!((dummy.watcher.as_str(), dummy.status.as_deref(), dummy.processes), ("dummy", Some("active"), Some(2)));
    assert_eq!((dummy.cpu, dummy.mem_bytes), (3.5, 3072));
    assert_eq!(dummy.pids.iter().map(|p| p.pid).collect::<Vec<_>>(), [10, 11]);
    assert_eq!((rows[1].watcher.as_str(), rows[1].processes), ("idle", Some(0)));

    // A decr: the next aggregate no longer lists pid 11.
    aggregate(&view, "first", "dummy", &[10]);
    assert_eq!(view.watchers()[0].processes, Some(1));
}

#[test]
fn events_update_statuses_and_the_feed() {
    let view = ClusterView::default();
    view.set_statuses("first", &statuses(&[("dummy", "active")]));
    process(&view, "first", "dummy", 10, 1.0, "1K");
    aggregate(&view, "first", "dummy", &[10]);
    let mut version = view.changes();
    version.borrow_and_update();
    let parsed = view.on_event("first", b"watcher.first:dummy.stop", br#"{"time": 12.5, "node": "first"}"#);
    assert_eq!(parsed.unwrap().watcher.as_deref(), Some("dummy"));
    assert!(version.has_changed().unwrap(), "events are a change");
    let row = &view.watchers()[0];
    assert_eq!((row.status.as_deref(), row.processes, row.cpu), (Some("stopped"), Some(0), 0.0));
    view.on_event("first", b"cluster.first.down", br#"{"node": "first"}"#);
    view.on_event("first", b"watcher.first:dummy.start", br#"{"node": "first"}"#);
    assert_eq!(view.watchers()[0].status.as_deref(), Some("active"));
    let state = view.state();
    let events: Vec<_> = state.events.iter().map(|e| (e.seq, e.event.as_str(), e.watcher.clone())).collect();
    assert_eq!(events, [(0, "stop", Some("dummy".into())), (1, "down", None), (2, "start", Some("dummy".into()))]);
    assert_eq!(state.events[0].time, 12.5);
}

#[test]
fn the_feed_and_history_are_bounded() {
    let view = ClusterView::default();
    for _ in 0..RECENT_EVENTS + 5 {
        view.on_event("first", b"cluster.first.alive", b"{}");
    }
    assert_eq!(view.state().events.len(), RECENT_EVENTS);
    assert_eq!(view.state().events[0].seq, 5);
    process(&view, "first", "dummy", 10, 4.0, "1K");
    aggregate(&view, "first", "dummy", &[10]);
    let names = vec!["first".to_string()];
    for _ in 0..HISTORY_SAMPLES + 3 {
        view.sample_history(&names);
    }
    let points = view.state().history["first"].points();
    assert_eq!(points.len(), HISTORY_SAMPLES);
    assert_eq!(points[0], (4.0, 1024));
}

#[test]
fn nodes_that_left_are_forgotten() {
    let view = ClusterView::default();
    view.set_statuses("first", &statuses(&[("dummy", "active")]));
    view.set_statuses("second", &statuses(&[("dummy", "active")]));
    view.retain_nodes(&["second".to_string()]);
    let nodes: Vec<_> = view.watchers().into_iter().map(|w| w.node).collect();
    assert_eq!(nodes, ["second"]);
    // A watcher the node no longer reports is dropped.
    view.set_statuses("second", &statuses(&[]));
    assert!(view.watchers().is_empty());
}
