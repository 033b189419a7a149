//! Stopping the master: SIGINT, SIGTERM and the `quit` command all exit 0, and stop only the
//! master, never the nodes.

use std::time::Duration;

use cluster_e2e::cli::circusctl;
use cluster_e2e::master::CLUSTER_SECTION;
use cluster_e2e::{call, json, ports, CircusNode, Master};

/// A master whose only node is an endpoint nobody listens on: cheap, no circusd needed.
fn lonely_master() -> Master {
    let text = format!(
        "{CLUSTER_SECTION}\n[node.ghost]\nendpoint = \"{}\"\npubsub_endpoint = \"{}\"\nstats_endpoint = \"{}\"\n",
        ports::free_endpoint(),
        ports::free_endpoint(),
        ports::free_endpoint()
    );
    Master::start_unsettled(&text)
}

#[test]
fn sigterm_and_sigint_exit_zero() {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let mut master = lonely_master();
        master.signal(signal);
        assert_eq!(master.wait_exit(Duration::from_secs(10)), Some(0), "signal {signal}:\n{}", master.stderr());
        let gone = call(&master.endpoint, "nodes", json!({}), Duration::from_millis(500));
        assert!(gone.is_err(), "still answering after signal {signal}: {gone:?}");
    }
}

#[test]
fn quit_stops_the_master_only() {
    let first = CircusNode::start("first", &[("dummy", 1)]);
    let mut master = Master::start(&[&first]);
    let out = circusctl(&master.endpoint, &["quit"]);
    assert_eq!(out.code, 0, "quit is answered before the master stops: {out:?}");
    assert_eq!(master.wait_exit(Duration::from_secs(10)), Some(0), "{}", master.stderr());
    // The node goes on.
    assert_eq!(first.numprocesses("dummy"), 1);
    assert_eq!(first.status("dummy"), "active");
}

#[test]
fn a_ghost_node_is_down_and_named_in_errors() {
    let master = lonely_master();
    master.wait_node_state("ghost", "down");
    let reply = master.call("status", json!({"name": "ghost:w"}));
    assert_eq!(reply["status"], "error", "{reply}");
    assert!(reply["reason"].as_str().unwrap_or_default().contains("ghost"), "{reply}");
}
