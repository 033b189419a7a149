//! `clusterctl`: circusctl's commands plus `--node`, `nodes`, `--json`, and exit codes
//! 0 (ok) / 3 (error reply) / 1 (timeout).

use cluster_e2e::cli::{clusterctl, Run};
use cluster_e2e::{ports, retry_busy, Cluster};

#[test]
fn docs_example_incr_with_node_flag() {
    let c = Cluster::start();
    // Verbatim from the circusd-cluster docs, with the master's test endpoint.
    let run = retry_busy(|| clusterctl(&["incr", "dummy", "--endpoint", c.ep(), "--node", "first"]), Run::busy);
    run.ok();
    c.first.wait_numprocesses("dummy", 2);
    assert_eq!(c.second.numprocesses("dummy2"), 2, "second must be untouched");
}

#[test]
fn node_flag_anywhere_and_qualified_names() {
    let c = Cluster::start();
    let run = clusterctl(&["--endpoint", c.ep(), "--node", "second", "status", "dummy2"]);
    assert_eq!(run.ok().trim(), "active");
    let run = clusterctl(&["--endpoint", c.ep(), "status", "second:dummy2"]);
    assert_eq!(run.ok().trim(), "active");
    let run = clusterctl(&["numprocesses", "dummy2", "--node", "second", "--endpoint", c.ep()]);
    assert_eq!(run.ok().trim(), "2");
}

#[test]
fn nodes_lists_both_nodes() {
    let c = Cluster::start();
    let run = clusterctl(&["--endpoint", c.ep(), "nodes"]);
    let text = run.ok();
    for node in [&c.first, &c.second] {
        assert!(text.contains(&node.name), "{text}");
        assert!(text.contains(&node.endpoint), "{text}");
    }

    let reply = clusterctl(&["--endpoint", c.ep(), "--json", "nodes"]).json();
    let nodes = reply["nodes"].as_array().unwrap_or_else(|| panic!("no nodes: {reply}"));
    let mut names: Vec<&str> = nodes.iter().filter_map(|n| n["name"].as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["first", "second"], "{reply}");
}

#[test]
fn json_output_is_the_reply() {
    let c = Cluster::start();
    let reply = clusterctl(&["--endpoint", c.ep(), "--json", "status"]).json();
    assert_eq!(reply["status"], "ok", "{reply}");
    assert_eq!(reply["statuses"]["first:dummy"], "active", "{reply}");
    assert_eq!(reply["statuses"]["second:dummy2"], "active", "{reply}");
    assert!(reply["time"].is_f64(), "{reply}");

    let reply = clusterctl(&["--endpoint", c.ep(), "--json", "--node", "first", "list", "dummy"]).json();
    let pids: Vec<u64> =
        reply["pids"].as_array().unwrap_or_else(|| panic!("{reply}")).iter().filter_map(|p| p.as_u64()).collect();
    assert_eq!(pids, c.first.pids("dummy"));
}

#[test]
fn exit_codes() {
    let c = Cluster::start();
    assert_eq!(clusterctl(&["--endpoint", c.ep(), "numwatchers"]).code, 0);

    let run = clusterctl(&["--endpoint", c.ep(), "status", "third:x"]);
    assert_eq!(run.code, 3, "error reply: {run:?}");
    let run = clusterctl(&["--endpoint", c.ep(), "--node", "third", "status", "x"]);
    assert_eq!(run.code, 3, "error reply: {run:?}");
    let run = clusterctl(&["--endpoint", c.ep(), "--node", "first", "status", "nope"]);
    assert_eq!(run.code, 3, "error reply from circusd: {run:?}");

    // Nothing listens there: the call times out.
    let silent = format!("tcp://127.0.0.1:{}", ports::free_port());
    let run = clusterctl(&["--endpoint", &silent, "--timeout", "1", "numwatchers"]);
    assert_eq!(run.code, 1, "timeout: {run:?}");
}
