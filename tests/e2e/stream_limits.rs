//! Hostile node streams (issue 11): garbage and oversized messages are dropped and counted per
//! node, stock circus-top keeps running, and the master's memory stays bounded (it runs under a
//! capped address space, RLIMIT_AS: growing without bound kills it).

use std::time::{Duration, Instant};

use cluster_e2e::master::{node_section, CLUSTER_SECTION};
use cluster_e2e::publisher::HostilePublisher;
use cluster_e2e::tmux::{shows_all, Tmux};
use cluster_e2e::{paths, ports, wait_for, CircusNode, Master, Value};
use clusterd_protocol::connection::Subscriber;

/// A `[node.NAME]` whose command endpoint is closed and whose stats come from `stats`.
fn hostile_node(name: &str, stats: &HostilePublisher) -> String {
    format!("\n[node.{name}]\nendpoint = \"{}\"\nstats_endpoint = \"{}\"\n", ports::free_endpoint(), stats.endpoint)
}

fn frames(topic: &[u8], payload: &[u8]) -> Vec<Vec<u8>> {
    vec![topic.to_vec(), payload.to_vec()]
}

/// Polls `nodes` until node `name`'s stream counters satisfy `check`; returns them.
fn wait_streams(master: &Master, name: &str, check: impl Fn(&Value) -> bool) -> Value {
    wait_for(&format!("{name}'s stream counters"), || {
        let streams = master.node_entry(name).map(|entry| entry["streams"].clone()).unwrap_or_default();
        if check(&streams) {
            Ok(streams)
        } else {
            Err(streams.to_string())
        }
    })
}

#[test]
fn malformed_stream_messages_are_dropped_and_stock_circus_top_survives() {
    let first = CircusNode::start("first", &[("dummy", 1)]);
    let process = br#"{"mem_info1": "1.37M", "mem_info2": "2.44M", "cpu": 0.0, "mem": 0.006, "ctime": "0:00.0", "pid": 3499, "username": "root", "nice": 0, "create_time": 1795313833.6, "age": 4.9, "cmdline": "sleep", "children": [], "subtopic": 3499, "name": null}"#;
    let garbage = HostilePublisher::start(
        vec![
            frames(b"stat.junk", b"{this is not json}"),
            frames(b"stat.junk.7", b"{\"cpu\": \"\xff\xfe\"}"),
            frames(b"stat.junk", b"{\"pid\": [1]} {\"pid\": [2]}"),
            frames(b"stat.\xffjunk", b"{}"),
            frames(b"stat.junk\nforged", b"{}"),
            // Well-formed stats among them still go through (circus-top needs the aggregate
            // next to the process).
            frames(b"stat.fake.3499", process),
            frames(b"stat.fake", br#"{"pid": [3499], "cpu": 0.0, "mem": 0.006, "age": 4.9}"#),
        ],
        Duration::from_millis(100),
        1000,
    );
    let config = format!("{CLUSTER_SECTION}{}{}", node_section(&first), hostile_node("bad", &garbage));
    let master = Master::start_unsettled(&config);
    master.wait_alive("first");

    let bin = paths::venv_bin("circus-top");
    let command = format!("exec {} --endpoint {} 2>{{dir}}/stderr", bin.display(), master.stats_endpoint);
    let top = Tmux::start("circus-top-garbage", &command);
    let wanted = ["first.dummy".to_string(), "bad.fake".to_string()];
    let stderr = top.dir().join("stderr");
    let errors = || std::fs::read_to_string(&stderr).unwrap_or_default();
    top.wait_screen("circus-top to show both nodes", |s| {
        assert!(!errors().contains("Error"), "circus-top failed:\n{}", errors());
        shows_all(s, &wanted)
    });

    let streams = wait_streams(&master, "bad", |s| s["malformed"].as_u64() >= Some(50));
    assert!(streams["stats_forwarded"].as_u64() >= Some(1), "{streams}");
    // After 50 and more garbage messages, circus-top still repaints both nodes.
    let before = top.screen();
    top.wait_screen(
        "circus-top to repaint",
        |s| if s == before { Err("unchanged".into()) } else { shows_all(s, &wanted) },
    );
    assert_eq!(top.exit_status(), None, "circus-top exited");
    let errors = errors();
    assert!(!errors.contains("Traceback") && !errors.contains("Error"), "circus-top failed:\n{errors}");
    let first_streams = master.node_entry("first").expect("first")["streams"].clone();
    assert_eq!(first_streams["malformed"], 0, "{first_streams}");
    assert!(!master.stderr().contains("junk\nforged"), "topics are logged escaped");
}

#[test]
fn large_stream_messages_cannot_exhaust_the_master() {
    // 5 MB messages, 20 a second: far above max_stream_message_size (64 KiB by default).
    let huge = format!("{{\"x\": \"{}\"}}", "a".repeat(5_000_000)).into_bytes();
    let huge = HostilePublisher::start(vec![frames(b"stat.huge", &huge)], Duration::from_millis(50), 4);
    // 60 KB messages, about 1,000 a second: under the limit, so they reach the subscribers.
    let wide = format!("{{\"x\": \"{}\"}}", "b".repeat(60_000)).into_bytes();
    let wide = HostilePublisher::start(vec![frames(b"stat.wide", &wide); 10], Duration::from_millis(10), 1000);
    let config = format!("{CLUSTER_SECTION}{}{}", hostile_node("huge", &huge), hostile_node("wide", &wide));
    let mut master = Master::start_unsettled(&config);
    // Three subscribers that never read: each may cost the master its SNDHWM of messages.
    let stuck: Vec<Subscriber> = (0..3)
        .map(|_| Subscriber::connect_with_hwm(&master.stats_endpoint, &["stat.".to_string()], 1).expect("subscribe"))
        .collect();
    master.cap_memory(768 * 1024 * 1024);

    let deadline = Instant::now() + Duration::from_secs(8);
    while Instant::now() < deadline {
        master.assert_running();
        std::thread::sleep(Duration::from_millis(200));
    }
    let streams = wait_streams(&master, "huge", |s| s["oversized"].as_u64() >= Some(20));
    assert_eq!(streams["stats_forwarded"], 0, "{streams}");
    let streams = wait_streams(&master, "wide", |s| s["stats_forwarded"].as_u64() >= Some(100));
    assert_eq!(streams["oversized"], 0, "{streams}");
    master.assert_running();
    drop(stuck);
}
