//! Decoding recorded stats messages (circus-protocol.md §5.1 and the master's merged shapes).

use super::*;
use clusterd_protocol::Reply;

/// A per-process payload of the captured shape; `extra` is spliced in before the closing brace.
pub fn process_payload(pid: u64, cpu: &str, mem: &str, age: &str, name: &str, extra: &str) -> String {
    format!(
        r#"{{"mem_info1": "8.57M", "mem_info2": "12.21M", "cpu": {cpu}, "mem": {mem}, "ctime": "0:00.10", "pid": {pid}, "username": "root", "nice": 0, "create_time": 1795304253.7, "age": {age}, "cmdline": "python", "children": [], "subtopic": {pid}, "name": {name}{extra}}}"#
    )
}

/// Decodes a text message.
fn decode(topic: &str, payload: &str) -> Option<Stat> {
    stat(topic.as_bytes(), payload.as_bytes())
}

#[test]
fn per_process_messages_of_a_master_and_of_a_circusd() {
    let payload = process_payload(8498, "0.0", "0.036", "42.5", "null", r#", "node": "first""#);
    let expected = Stat::Process {
        component: "first-dummy".into(),
        node: Some("first".into()),
        process: ProcessStat { pid: 8498, name: "python".into(), cpu: Some(0.0), mem: Some(0.036), age: Some(42.5) },
    };
    assert_eq!(decode("stat.first-dummy.8498", &payload), Some(expected));
    // A plain circusd: no node anywhere.
    let payload = process_payload(8501, "1.0", "0.036", "42.6", "null", "");
    let Some(Stat::Process { component, node, process }) = decode("stat.my-app.8501", &payload) else { panic!() };
    assert_eq!((component.as_str(), node, process.pid, process.cpu), ("my-app", None, 8501, Some(1.0)));
    // circusd and circusd-stats carry their own name.
    let payload = process_payload(8503, "2.0", "0.12", "40.7", r#""circusd-stats""#, r#", "node": "first""#);
    let Some(Stat::Process { component, process, .. }) = decode("stat.first-circus.8503", &payload) else { panic!() };
    assert_eq!((component.as_str(), process.name.as_str()), ("first-circus", "circusd-stats"));
}

#[test]
fn the_node_of_a_publication_is_its_payloads() {
    let payload = process_payload(8498, "0.0", "0.036", "42.5", "null", r#", "node": "first""#);
    assert_eq!(stat_node(b"stat.first-dummy.8498", payload.as_bytes()), Some("first".into()));
    assert_eq!(stat_node(b"stat.first-dummy", br#"{"pid": [1], "node": "first"}"#), Some("first".into()));
    let circusd = process_payload(8501, "1.0", "0.036", "42.6", "null", "");
    assert_eq!(stat_node(b"stat.my-app.8501", circusd.as_bytes()), None);
    assert_eq!(stat_node(b"stat.sockets", br#"{"reads": 1}"#), None);
}

#[test]
fn not_available_figures_are_none() {
    let payload = process_payload(7, r#""N/A""#, r#""N/A""#, r#""N/A""#, "null", "");
    let Some(Stat::Process { process, .. }) = decode("stat.dummy.7", &payload) else { panic!() };
    assert_eq!((process.cpu, process.mem, process.age), (None, None, None));
    // Numeric strings are read; other junk is unknown.
    let payload = process_payload(7, r#""12.5""#, "null", "[1]", "null", "");
    let Some(Stat::Process { process, .. }) = decode("stat.dummy.7", &payload) else { panic!() };
    assert_eq!((process.cpu, process.mem, process.age), (Some(12.5), None, None));
}

#[test]
fn aggregates_keep_their_pid_list() {
    let agg = r#"{"pid": [8498, 8500], "cpu": 0.0, "mem": 0.072, "age": 42.69, "node": "first"}"#;
    let expected =
        Stat::Aggregate { component: "first-dummy".into(), node: Some("first".into()), pids: Some(vec![8498, 8500]) };
    assert_eq!(decode("stat.first-dummy", agg), Some(expected));
    let agg = r#"{"pid": "N/A", "cpu": "N/A", "mem": "N/A", "age": "N/A"}"#;
    assert_eq!(
        decode("stat.circus", agg),
        Some(Stat::Aggregate { component: "circus".into(), node: None, pids: None })
    );
}

#[test]
fn sockets() {
    let one = r#"{"fd": 7, "subtopic": 100007, "reads": 0, "address": "first/127.0.0.1:7515", "node": "first"}"#;
    let expected = Stat::Socket {
        key: "100007".into(),
        node: Some("first".into()),
        address: "first/127.0.0.1:7515".into(),
        reads: Some(0.0),
    };
    assert_eq!(decode("stat.sockets.100007", one), Some(expected));
    let plain = r#"{"fd": 7, "subtopic": 7, "reads": 3, "address": "127.0.0.1:7515"}"#;
    assert!(matches!(decode("stat.sockets.7", plain), Some(Stat::Socket { node: None, .. })));
    let total = r#"{"addresses": ["first/127.0.0.1:7515"], "reads": 4}"#;
    assert_eq!(decode("stat.sockets", total), Some(Stat::SocketTotal { reads: Some(4.0) }));
    // Missing address or reads, or a total without addresses: ignored.
    assert_eq!(decode("stat.sockets.7", r#"{"fd": 7, "reads": 0}"#), None);
    assert_eq!(decode("stat.sockets.7", r#"{"address": "x"}"#), None);
    assert_eq!(decode("stat.sockets", r#"{"reads": 0}"#), None);
}

#[test]
fn malformed_messages_are_none() {
    let good = process_payload(1, "0.0", "0.1", "1.0", "null", "");
    let cases: &[(&[u8], &[u8])] = &[
        (b"stat.first.dummy.1", good.as_bytes()), // dot prefix: 4 parts, as circus-top
        (b"stat.dummy.abc", good.as_bytes()),     // non-digit subtopic
        (b"stat.dummy.", good.as_bytes()),        // empty subtopic
        (b"stat.", good.as_bytes()),              // empty component
        (b"stat..1", good.as_bytes()),            // empty component
        (b"stats.dummy.1", good.as_bytes()),      // not a stats topic
        (b"watcher.dummy.spawn", b"{}"),          // an event
        (b"stat.dummy.99999999999999999999999", good.as_bytes()), // pid out of range
        (b"stat.\xff\xfe.1", good.as_bytes()),    // not UTF-8
        (b"stat.dummy.1", b"not json"),
        (b"stat.dummy.1", b"[1, 2]"),
        (b"stat.dummy.1", b"\xff"),
        (b"stat.dummy.1", br#"{"cpu": 1.0, "mem": 1.0}"#), // no age: circus-top would crash
        (b"stat.first-sockets.7", br#"{"fd": 7, "subtopic": 7, "reads": 0, "address": "a"}"#),
        (b"", b""),
    ];
    for (topic, payload) in cases {
        assert_eq!(stat(topic, payload), None, "{}", String::from_utf8_lossy(topic));
    }
}

#[test]
fn a_bad_node_field_is_ignored() {
    for node in [r#""a.b""#, r#""""#, "3", "null", r#""a:b""#] {
        let payload = process_payload(1, "0.0", "0.1", "1.0", "null", &format!(r#", "node": {node}"#));
        let Some(Stat::Process { node, .. }) = decode("stat.dummy.1", &payload) else { panic!("{payload}") };
        assert_eq!(node, None);
    }
}

#[test]
fn components_are_located() {
    let none = std::iter::empty;
    // The payload's node wins, even with a dash in it.
    assert_eq!(
        locate("second-node-dummy", Some("second-node"), none(), true),
        (Some("second-node".into()), "dummy".into())
    );
    // A node that does not prefix the component keeps the whole component as the watcher.
    assert_eq!(locate("dummy", Some("first"), none(), true), (Some("first".into()), "dummy".into()));
    // No node in the payload: the longest known node name.
    let known = ["web", "web-01"];
    assert_eq!(locate("web-01-my-app", None, known.into_iter(), false), (Some("web-01".into()), "my-app".into()));
    // A master's stream: before the first dash.
    assert_eq!(locate("first-my-app", None, none(), true), (Some("first".into()), "my-app".into()));
    // A plain circusd's stream: the dash belongs to the watcher.
    assert_eq!(locate("my-app", None, none(), false), (None, "my-app".into()));
    assert_eq!(locate("-x", None, none(), true), (None, "-x".into()));
    assert_eq!(locate("x-", None, none(), true), (None, "x-".into()));
}

#[test]
fn node_states_from_replies() {
    let reply = |text: &str| Reply::decode(text.as_bytes()).unwrap();
    let ok = r#"{"status": "ok", "time": 1.0, "nodes": [
        {"name": "first", "endpoint": "tcp://127.0.0.1:5555", "state": "alive", "rtt_ms": 0.8, "missed_probes": 0},
        {"name": "second", "state": "down"}, {"name": "third"}, {"state": "alive"}, 7]}"#;
    let expected =
        vec![("first".into(), "alive".into()), ("second".into(), "down".into()), ("third".into(), "?".into())];
    assert_eq!(node_states(&reply(ok)), Some(expected));
    let unknown = r#"{"status": "error", "reason": "unknown command: nodes", "errno": 2}"#;
    assert_eq!(node_states(&reply(unknown)), None);
    assert_eq!(node_states(&reply(r#"{"status": "ok"}"#)), None);
    assert_eq!(node_states(&reply(r#"{"status": "ok", "nodes": {}}"#)), None);
}
