//! A master never takes itself, or another master, as a node (issue 11, item 5): every spelling
//! of its own loopback endpoints is refused by address, and a candidate that answers `nodelist`
//! is refused as a master, so no stream loops (`stat.loop-loop-...`) and SIGTERM exits cleanly.

use std::time::Duration;

use cluster_e2e::master::CLUSTER_SECTION;
use cluster_e2e::{json, Cluster, Master, Value};

/// The port of a `tcp://HOST:PORT` endpoint.
fn port(endpoint: &str) -> &str {
    endpoint.rsplit_once(':').map(|(_, port)| port).expect("tcp endpoint")
}

/// Every way of writing "this machine" that libzmq connects to.
const LOOPBACK_SPELLINGS: [&str; 7] =
    ["127.1", "0", "0.0.0.0", "2130706433", "[::ffff:127.0.0.1]", "localhost", "0x7f.0.0.1"];

#[track_caller]
fn assert_refused(reply: &Value, needle: &str) {
    assert_eq!(reply["status"], "error", "{reply}");
    assert_eq!(reply["errno"], 3, "{reply}");
    assert!(reply["reason"].as_str().unwrap_or_default().contains(needle), "expected {needle:?}: {reply}");
}

#[test]
fn every_spelling_of_the_masters_own_endpoints_is_refused() {
    let mut c = Cluster::start();
    for spelling in LOOPBACK_SPELLINGS {
        let own_command = format!("tcp://{spelling}:{}", port(&c.master.endpoint));
        let own_stats = format!("tcp://{spelling}:{}", port(&c.master.stats_endpoint));
        let own_events = format!("tcp://{spelling}:{}", port(&c.master.pubsub_endpoint));
        for (endpoint, stats, events, key) in [
            (&own_command, &c.first.stats_endpoint, &c.first.pubsub_endpoint, "master's own endpoint"),
            (&c.first.endpoint, &own_stats, &c.first.pubsub_endpoint, "master's own stats_endpoint"),
            (&c.first.endpoint, &c.first.stats_endpoint, &own_events, "master's own pubsub_endpoint"),
        ] {
            let reply = c.master.call(
                "register_node",
                json!({"name": "loop", "endpoint": endpoint, "stats_endpoint": stats, "pubsub_endpoint": events}),
            );
            assert_refused(&reply, key);
        }
    }
    assert!(c.master.node_entry("loop").is_none(), "nothing was registered");
    assert_eq!(c.master.call("numwatchers", json!({}))["status"], "ok", "the master keeps serving");
    c.master.signal(libc::SIGTERM);
    assert_eq!(c.master.wait_exit(Duration::from_secs(20)), Some(0), "{}", c.master.stderr());
}

#[test]
fn two_masters_never_register_each_other() {
    let c = Cluster::start();
    let other = Master::start_with_config(CLUSTER_SECTION);
    for (from, to) in [(&c.master, &other), (&other, &c.master)] {
        let reply = from.call(
            "register_node",
            json!({"name": "peer", "endpoint": to.endpoint, "stats_endpoint": to.stats_endpoint,
                   "pubsub_endpoint": to.pubsub_endpoint}),
        );
        assert_refused(&reply, "is a cluster master (it answers nodelist)");
        assert!(from.node_entry("peer").is_none(), "nothing was registered");
    }
    // A circusd is still welcome.
    let reply = other.call(
        "register_node",
        json!({"name": "first", "endpoint": c.first.endpoint, "stats_endpoint": c.first.stats_endpoint}),
    );
    assert_eq!(reply["status"], "ok", "{reply}");
}
