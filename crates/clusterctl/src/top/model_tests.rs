//! The model fed with recorded message shapes, with time moved by hand.

use super::*;
use crate::top::decode::tests::process_payload;

/// A clock the tests move: `at(1.5)` is 1.5 s after the start.
struct Clock(Instant);

impl Clock {
    /// A clock at 0.
    fn new() -> Self {
        Clock(Instant::now())
    }

    /// The instant `seconds` after 0.
    fn at(&self, seconds: f64) -> Instant {
        self.0 + Duration::from_secs_f64(seconds)
    }
}

/// A model with circus-top's 3 s process timeout.
fn model() -> Model {
    Model::new(Duration::from_secs(3))
}

/// Feeds a master's per-process message `stat.<node>-<watcher>.<pid>`.
fn process(model: &mut Model, node: &str, watcher: &str, pid: u64, cpu: &str, mem: &str, now: Instant) {
    let payload = process_payload(pid, cpu, mem, "42.5", "null", &format!(r#", "node": "{node}""#));
    assert!(model.apply(format!("stat.{node}-{watcher}.{pid}").as_bytes(), payload.as_bytes(), now));
}

/// `node/watcher: pid pid ...` for every node, in display order.
fn layout(model: &Model, sort: Sort) -> Vec<String> {
    let mut lines = Vec::new();
    for node in model.nodes(sort) {
        let name = node.name.unwrap_or("-");
        if node.watchers.is_empty() {
            lines.push(format!("{name}/"));
        }
        for watcher in node.watchers {
            let pids: Vec<String> = watcher.processes.iter().map(|p| p.pid.to_string()).collect();
            lines.push(format!("{name}/{}: {}", watcher.name, pids.join(" ")));
        }
    }
    lines
}

#[test]
fn a_master_stream_groups_by_node_and_watcher() {
    let (clock, mut model) = (Clock::new(), model());
    let now = clock.at(0.0);
    process(&mut model, "first", "dummy", 8498, "0.0", "0.036", now);
    process(&mut model, "first", "dummy", 8500, "1.5", "0.036", now);
    let agg = r#"{"pid": [8498, 8500], "cpu": 0.75, "mem": 0.072, "age": 42.69, "node": "first"}"#;
    assert!(model.apply(b"stat.first-dummy", agg.as_bytes(), now));
    process(&mut model, "second-node", "dummy", 8498, "2.0", "0.5", now);
    let circusd = process_payload(8495, "0.5", "0.1", "50.0", r#""circusd""#, r#", "node": "first""#);
    assert!(model.apply(b"stat.first-circus.8495", circusd.as_bytes(), now));
    assert_eq!(layout(&model, Sort::Cpu), ["first/dummy: 8500 8498", "first/circus: 8495", "second-node/dummy: 8498"]);
    let nodes = model.nodes(Sort::Cpu);
    assert_eq!(nodes[0].watchers[1].processes[0].name, "circusd");
    let dummy = &nodes[0].watchers[0].total;
    assert_eq!((dummy.processes, dummy.cpu, dummy.age), (2, Some(1.5), Some(42.5)));
    assert!((dummy.mem.unwrap() - 0.072).abs() < 1e-9);
    assert_eq!(nodes[0].total.processes, 3);
    assert_eq!(nodes[0].total.cpu, Some(2.0));
    assert_eq!(nodes[0].total.age, Some(50.0));
    let total = model.total();
    assert_eq!((total.processes, total.cpu), (4, Some(4.0)));
    assert_eq!((model.received, model.ignored), (5, 0));
}

#[test]
fn a_plain_circusd_is_one_unnamed_node() {
    let (clock, mut model) = (Clock::new(), model());
    for (topic, pid) in [("stat.dummy.8498", 8498), ("stat.my-app.8501", 8501), ("stat.circus.8503", 8503)] {
        let payload = process_payload(pid, "0.0", "0.036", "42.6", "null", "");
        assert!(model.apply(topic.as_bytes(), payload.as_bytes(), clock.at(0.0)));
    }
    let agg = r#"{"pid": [8498], "cpu": 0.0, "mem": 0.036, "age": 42.69}"#;
    assert!(model.apply(b"stat.dummy", agg.as_bytes(), clock.at(0.0)));
    assert_eq!(layout(&model, Sort::Name), ["-/circus: 8503", "-/dummy: 8498", "-/my-app: 8501"]);
    assert_eq!(model.nodes(Sort::Name)[0].state, None);
}

#[test]
fn node_less_payloads_on_a_master_stream_use_the_topic() {
    let (clock, mut model) = (Clock::new(), model());
    let now = clock.at(0.0);
    process(&mut model, "first", "dummy", 1, "0.0", "0.1", now);
    let bare = process_payload(2, "0.0", "0.1", "1.0", "null", "");
    assert!(model.apply(b"stat.first-my-app.2", bare.as_bytes(), now));
    // A known node name with a dash beats the first-dash rule.
    model.set_node_states(Some(vec![("web-01".into(), "alive".into())]));
    assert!(model.apply(b"stat.web-01-api.3", process_payload(3, "0.0", "0.1", "1.0", "null", "").as_bytes(), now));
    assert_eq!(layout(&model, Sort::Name), ["first/dummy: 1", "first/my-app: 2", "web-01/api: 3"]);
}

#[test]
fn processes_expire_and_take_empty_groups_along() {
    let (clock, mut model) = (Clock::new(), model());
    process(&mut model, "first", "dummy", 1, "0.0", "0.1", clock.at(0.0));
    process(&mut model, "first", "other", 2, "0.0", "0.1", clock.at(0.0));
    process(&mut model, "second", "dummy", 3, "0.0", "0.1", clock.at(0.0));
    process(&mut model, "first", "dummy", 1, "0.0", "0.1", clock.at(2.0));
    model.expire(clock.at(3.0));
    assert_eq!(layout(&model, Sort::Name).len(), 3, "exactly at the timeout: kept");
    model.expire(clock.at(3.5));
    assert_eq!(layout(&model, Sort::Name), ["first/dummy: 1"]);
    model.expire(clock.at(5.5));
    assert!(model.nodes(Sort::Name).is_empty());
    assert_eq!(model.total(), Totals::default());
    // A clock that goes backwards (or a message stamped later than `now`) expires nothing.
    process(&mut model, "first", "dummy", 1, "0.0", "0.1", clock.at(10.0));
    model.expire(clock.at(9.0));
    assert_eq!(layout(&model, Sort::Name), ["first/dummy: 1"]);
}

#[test]
fn an_aggregate_drops_the_pids_it_no_longer_lists() {
    let (clock, mut model) = (Clock::new(), model());
    let now = clock.at(0.0);
    for pid in [1, 2, 3] {
        process(&mut model, "first", "dummy", pid, "0.0", "0.1", now);
    }
    // A malformed list prunes nothing.
    assert!(model.apply(
        b"stat.first-dummy",
        br#"{"pid": [1, "x"], "cpu": 0, "mem": 0, "age": 0, "node": "first"}"#,
        now
    ));
    assert_eq!(layout(&model, Sort::Name), ["first/dummy: 1 2 3"]);
    assert!(model.apply(
        b"stat.first-dummy",
        br#"{"pid": [1, 3], "cpu": 0, "mem": 0, "age": 0, "node": "first"}"#,
        now
    ));
    assert_eq!(layout(&model, Sort::Name), ["first/dummy: 1 3"]);
    // Another node's aggregate for a watcher of the same name leaves this one alone.
    assert!(model.apply(b"stat.second-dummy", br#"{"pid": [], "cpu": "N/A", "node": "second"}"#, now));
    assert_eq!(layout(&model, Sort::Name), ["first/dummy: 1 3"]);
    assert!(model.apply(
        b"stat.first-dummy",
        br#"{"pid": [], "cpu": "N/A", "mem": "N/A", "age": "N/A", "node": "first"}"#,
        now
    ));
    assert!(model.nodes(Sort::Name).is_empty());
}

#[test]
fn not_available_figures_are_left_out_of_totals_and_sorted_last() {
    let (clock, mut model) = (Clock::new(), model());
    let now = clock.at(0.0);
    process(&mut model, "first", "dummy", 1, r#""N/A""#, r#""N/A""#, now);
    let watcher = &model.nodes(Sort::Cpu)[0].watchers[0];
    assert_eq!((watcher.total.cpu, watcher.total.mem, watcher.total.age), (None, None, Some(42.5)));
    process(&mut model, "first", "dummy", 2, "0.5", "0.2", now);
    process(&mut model, "first", "dummy", 3, "3.0", r#""N/A""#, now);
    assert_eq!(layout(&model, Sort::Cpu), ["first/dummy: 3 2 1"]);
    assert_eq!(layout(&model, Sort::Mem), ["first/dummy: 2 1 3"]);
    assert_eq!(model.total().cpu, Some(3.5));
}

#[test]
fn sorting_orders_processes_and_watchers() {
    let (clock, mut model) = (Clock::new(), model());
    let now = clock.at(0.0);
    process(&mut model, "first", "aaa", 10, "1.0", "5.0", now);
    process(&mut model, "first", "zzz", 20, "9.0", "0.1", now);
    process(&mut model, "first", "zzz", 21, "12.5", "0.2", now);
    let named = process_payload(22, "3.0", "0.3", "1.0", r#""alpha""#, r#", "node": "first""#);
    assert!(model.apply(b"stat.first-zzz.22", named.as_bytes(), now));
    // Numbers, not strings: 12.5 sorts above 9.0 and 3.0 (circus-top sorts "3.00" first).
    assert_eq!(layout(&model, Sort::Cpu), ["first/zzz: 21 20 22", "first/aaa: 10"]);
    assert_eq!(layout(&model, Sort::Mem), ["first/aaa: 10", "first/zzz: 22 21 20"]);
    // By name: "alpha" before "python", then pid.
    assert_eq!(layout(&model, Sort::Name), ["first/aaa: 10", "first/zzz: 22 20 21"]);
    assert_eq!([Sort::Cpu, Sort::Mem, Sort::Name].map(Sort::label), ["CPU", "MEM", "name"]);
}

#[test]
fn node_states_come_and_go() {
    let (clock, mut model) = (Clock::new(), model());
    process(&mut model, "first", "dummy", 1, "0.0", "0.1", clock.at(0.0));
    assert!(!model.states_known());
    assert_eq!(model.nodes(Sort::Cpu)[0].state, None);
    let states =
        vec![("first".into(), "alive".into()), ("second".into(), "down".into()), ("a-node".into(), "?".into())];
    model.set_node_states(Some(states));
    assert!(model.states_known());
    let nodes = model.nodes(Sort::Cpu);
    // By name, silent nodes included: a node going quiet does not jump around.
    assert_eq!(
        nodes.iter().map(|n| (n.name, n.state)).collect::<Vec<_>>(),
        [(Some("a-node"), Some("?")), (Some("first"), Some("alive")), (Some("second"), Some("down"))]
    );
    assert!(nodes[2].watchers.is_empty(), "a silent node is a bare header");
    assert_eq!(model.state("second"), Some("down"));
    // The master went away (or this is a plain circusd): states unknown again.
    model.set_node_states(None);
    assert_eq!(layout(&model, Sort::Cpu), ["first/dummy: 1"]);
    assert_eq!(model.nodes(Sort::Cpu)[0].state, None);
}

#[test]
fn sockets_are_kept_by_subtopic_and_expire() {
    let (clock, mut model) = (Clock::new(), model());
    let one = br#"{"fd": 7, "subtopic": 100007, "reads": 2, "address": "first/127.0.0.1:7515", "node": "first"}"#;
    let two = br#"{"fd": 7, "subtopic": 200007, "reads": 0, "address": "second/127.0.0.1:7545", "node": "second"}"#;
    assert!(model.apply(b"stat.sockets.100007", one, clock.at(0.0)));
    assert!(model.apply(b"stat.sockets.200007", two, clock.at(2.0)));
    assert!(model.apply(b"stat.sockets", br#"{"addresses": ["a", "b"], "reads": 2}"#, clock.at(2.0)));
    let addresses: Vec<&str> = model.sockets().iter().map(|s| s.address.as_str()).collect();
    assert_eq!(addresses, ["first/127.0.0.1:7515", "second/127.0.0.1:7545"]);
    assert_eq!(model.sockets()[0].reads, Some(2.0));
    assert!(model.nodes(Sort::Cpu).is_empty(), "sockets are not a watcher");
    model.expire(clock.at(4.0));
    assert_eq!(model.sockets().len(), 1);
}

#[test]
fn malformed_input_is_counted_and_changes_nothing() {
    let (clock, mut model) = (Clock::new(), model());
    let now = clock.at(0.0);
    let junk: &[(&[u8], &[u8])] = &[
        (b"stat.first.dummy.1", b"{}"),
        (b"stat.dummy.1", b"{\"cpu\": 1"),
        (b"stat.dummy.x", br#"{"cpu": 1, "mem": 1, "age": 1}"#),
        (b"\x00\xff", b"\x00"),
        (b"stat.dummy.1", b"null"),
    ];
    for (topic, payload) in junk {
        assert!(!model.apply(topic, payload, now));
    }
    assert_eq!((model.received, model.ignored), (5, 5));
    assert!(model.nodes(Sort::Cpu).is_empty() && model.sockets().is_empty());
    // An aggregate for a watcher nobody reported is harmless too.
    assert!(model.apply(b"stat.ghost", br#"{"pid": [1], "cpu": 0.0, "mem": 0.0, "age": 1.0}"#, now));
    assert!(model.nodes(Sort::Cpu).is_empty());
}
