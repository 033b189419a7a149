//! Lazy streams (issue 18): the master holds a node's stats and event connections only while a
//! subscriber's prefix can match that node's topics, and drops them a little after the last
//! one goes. An idle fleet costs no stream connection.

use cluster_e2e::stream::Stream;
use cluster_e2e::{json, wait_for, Cluster, Value};

/// Established TCP connections to `endpoint`'s port, from `/proc/net/tcp` (the master is the
/// only client of a node's stats endpoint in these tests).
fn connections_to(endpoint: &str) -> usize {
    let port: u16 = endpoint.rsplit(':').next().and_then(|p| p.parse().ok()).expect("a tcp endpoint");
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let remote_port =
                fields.get(2).and_then(|a| a.rsplit(':').next()).and_then(|p| u16::from_str_radix(p, 16).ok());
            remote_port == Some(port) && fields.get(3) == Some(&"01")
        })
        .count()
}

fn subscribed(c: &Cluster, node: &str) -> Value {
    c.master.node_entry(node).expect("listed")["streams"]["subscribed"].clone()
}

fn wait_subscribed(c: &Cluster, node: &str, wanted: &Value) {
    wait_for(&format!("{node}'s streams held: {wanted}"), || {
        let held = subscribed(c, node);
        if &held == wanted {
            Ok(())
        } else {
            Err(format!("{node}: {held}"))
        }
    });
}

#[test]
fn a_node_stream_is_held_only_while_a_subscriber_wants_it() {
    let c = Cluster::start();
    // Nobody subscribed: no stream connection to any node, and it stays so.
    for node in ["first", "second"] {
        wait_subscribed(&c, node, &json!([]));
    }
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(subscribed(&c, "first"), json!([]));
    assert_eq!(connections_to(&c.first.stats_endpoint), 0, "no connection to first's circusd-stats");
    assert_eq!(connections_to(&c.second.stats_endpoint), 0, "no connection to second's circusd-stats");

    // A subscriber to `stat.first-` starts first's stats feed only; its messages flow.
    let stream = Stream::subscribe(&c.master.stats_endpoint, &["stat.first-"]);
    stream.wait_for("first's stats", |m| m.topic.starts_with("stat.first-") && m.payload["node"] == "first");
    wait_subscribed(&c, "first", &json!(["stats"]));
    assert_eq!(connections_to(&c.first.stats_endpoint), 1, "one connection to first's circusd-stats");
    assert_eq!(subscribed(&c, "second"), json!([]), "second's stats are not wanted");
    assert_eq!(connections_to(&c.second.stats_endpoint), 0);
    let second = c.master.node_entry("second").expect("listed");
    assert_eq!(second["streams"]["stats_forwarded"], 0, "{second}");

    // The subscriber goes: a little later the master lets go of first's stats.
    drop(stream);
    wait_subscribed(&c, "first", &json!([]));
    wait_for("no connection to first's circusd-stats", || match connections_to(&c.first.stats_endpoint) {
        0 => Ok(()),
        n => Err(format!("{n} connections")),
    });

    // Events are held the same way: `watcher.` matches every node's.
    let events = Stream::subscribe(&c.master.pubsub_endpoint, &["watcher."]);
    wait_subscribed(&c, "first", &json!(["events"]));
    wait_subscribed(&c, "second", &json!(["events"]));
    drop(events);
    wait_subscribed(&c, "second", &json!([]));
}
