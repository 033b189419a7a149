//! A host name whose resolver never answers freezes nothing (issue 11, item 4). The master runs
//! with its own /etc/resolv.conf (bind-mounted in a private mount namespace) naming a "resolver"
//! on a loopback address that swallows every query; a node registered by host name turns
//! `unreachable (dns: ...)`, while `status`/`dstats` keep answering and a healthy node stays alive.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use cluster_e2e::master::{node_section, CLUSTER_SECTION};
use cluster_e2e::{call, json, ports, wait_for, CircusNode, Master};

/// A DNS server on `127.x.y.1:53` that reads queries and never answers (no ICMP either, so the
/// C library waits for its full timeout).
fn blackhole_resolver() -> UdpSocket {
    let port = ports::free_port();
    let address = format!("127.{}.{}.1:53", port >> 8, port & 0xff);
    let socket = UdpSocket::bind(&address).unwrap_or_else(|e| panic!("bind {address} (root needed): {e}"));
    socket.set_read_timeout(Some(Duration::from_millis(200))).expect("read timeout");
    socket
}

/// `status`/`dstats` answered within a client's ordinary deadline, and the healthy node alive.
#[track_caller]
fn assert_serving(master: &Master, healthy: &CircusNode) {
    let deadline = Duration::from_secs(5);
    for (command, properties) in [("dstats", json!({})), ("status", json!({"name": "healthy:dummy"}))] {
        let reply = call(&master.endpoint, command, properties, deadline)
            .unwrap_or_else(|e| panic!("{command} got no answer: {e}\n{}", master.stderr()));
        assert_eq!(reply["status"], if command == "status" { "active" } else { "ok" }, "{command}: {reply}");
    }
    let entry = master.node_entry(&healthy.name).expect("listed");
    assert_eq!(entry["state"], "alive", "the healthy node: {entry}");
}

#[test]
fn a_name_that_never_resolves_freezes_nothing() {
    let healthy = CircusNode::start("healthy", &[("dummy", 1)]);
    let resolver = blackhole_resolver();
    let dir = tempfile::tempdir().expect("tempdir");
    let resolv_conf = dir.path().join("resolv.conf");
    let nameserver = resolver.local_addr().expect("address").ip();
    std::fs::write(&resolv_conf, format!("nameserver {nameserver}\noptions timeout:30 attempts:3\n")).expect("write");
    let master = Master::start_with_resolv_conf(&format!("{CLUSTER_SECTION}{}", node_section(&healthy)), &resolv_conf);
    master.wait_node_state("healthy", "alive");

    let far = "tcp://circus-node.example";
    let reply = call(
        &master.endpoint,
        "register_node",
        json!({"name": "far", "endpoint": format!("{far}:5555"), "stats_endpoint": format!("{far}:5557"),
               "pubsub_endpoint": format!("{far}:5556")}),
        Duration::from_secs(5),
    )
    .unwrap_or_else(|e| panic!("register_node got no answer: {e}\n{}", master.stderr()));
    assert_eq!(reply["status"], "ok", "{reply}");
    // The name was asked of the resolver (which keeps silent).
    let mut query = [0u8; 512];
    let (len, _) = resolver.recv_from(&mut query).expect("a DNS query reached the blackhole resolver");
    assert!(query[..len].windows(11).any(|w| w == b"circus-node"), "{:?}", &query[..len]);

    // Meanwhile and until the name is given up on, everything else is served.
    let started = Instant::now();
    wait_for("the far node to be unreachable (dns: ...)", || {
        assert_serving(&master, &healthy);
        let reply = master.call("status", json!({"node": "far"}));
        let reason = reply["reason"].as_str().unwrap_or_default().to_string();
        if reason.contains("far is unreachable (dns: no answer for circus-node.example") {
            Ok(())
        } else {
            Err(reply.to_string())
        }
    });
    // A few more heartbeats: no false `down`.
    while started.elapsed() < Duration::from_secs(8) {
        assert_serving(&master, &healthy);
        std::thread::sleep(Duration::from_millis(500));
    }
    let far = master.node_entry("far").expect("listed");
    assert!(far["unreachable"].as_str().unwrap_or_default().starts_with("dns: "), "{far}");
}
