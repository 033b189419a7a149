//! clusterctl over node sets with three real circusd nodes: gathered output (identical answers
//! grouped, failures counted), `--batch 1 --wait` restarting node by node in order, and `run`
//! executing a script on every node with each exit code reported and no watcher left behind.

use cluster_e2e::cli::{clusterctl, Run};
use cluster_e2e::cluster::{tagged_trio, tagged_trio_keyed, STRICT_READS};
use cluster_e2e::{retry_busy, Master};

/// `clusterctl --endpoint <master> --timeout 10 <args>`, again while circusd reports its lock.
fn ctl(master: &Master, args: &[&str]) -> Run {
    let mut all = vec!["--endpoint", master.endpoint.as_str(), "--timeout", "10"];
    all.extend_from_slice(args);
    retry_busy(|| clusterctl(&all), Run::busy)
}

#[test]
fn gathered_output_groups_identical_answers_and_counts_failures() {
    // Strict merged reads: a dead node fails the read (the default, partial, is tested below).
    let (mut nodes, master) = tagged_trio_keyed(STRICT_READS);
    let out = ctl(&master, &["--node", "all", "status", "dummy"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("node[1-3] (3)"), "one group for three identical answers: {out:?}");
    assert_eq!(out.stdout.matches("active").count(), 1, "printed once: {out:?}");

    nodes[1].kill9();
    master.wait_node_state("node2", "down");
    let out = ctl(&master, &["--node", "all", "status", "dummy"]);
    assert_eq!(out.code, 3, "a failed node makes the exit code 3: {out:?}");
    assert!(out.stdout.contains("node[1,3] (2)"), "{out:?}");
    assert!(out.stderr.contains("node2 (1)"), "the failure is counted: {out:?}");

    let json = ctl(&master, &["--json", "--node", "@eu", "numprocesses", "dummy"]);
    let lines: Vec<serde_json::Value> =
        json.stdout.lines().map(|l| serde_json::from_str(l).expect("one JSON object per line")).collect();
    assert_eq!(lines.len(), 2, "{json:?}");
    assert_eq!(lines[0]["node"], "node1", "{json:?}");
    assert_eq!(lines[0]["reply"]["numprocesses"], 1, "{json:?}");
    assert_eq!(lines[1]["node"], "node2", "{json:?}");
}

#[test]
fn gathered_output_leaves_out_a_dead_node_and_names_it() {
    let (mut nodes, master) = tagged_trio();
    nodes[1].kill9();
    master.wait_node_state("node2", "down");
    let out = ctl(&master, &["--node", "all", "status", "dummy"]);
    assert_eq!(out.code, 4, "a partial result exits 4: {out:?}");
    assert!(out.stdout.contains("node[1,3] (2)"), "{out:?}");
    assert!(out.stderr.contains("partial result: node node2 did not answer (down): node node2 is down"), "{out:?}");

    let json = ctl(&master, &["--json", "--node", "@eu", "numprocesses", "dummy"]);
    let lines: Vec<serde_json::Value> =
        json.stdout.lines().map(|l| serde_json::from_str(l).expect("one JSON object per line")).collect();
    assert_eq!(lines.len(), 1, "only the node that answered: {json:?}");
    assert_eq!(lines[0]["node"], "node1", "{json:?}");
    assert_eq!(json.code, 4, "{json:?}");
}

#[test]
fn batch_one_with_wait_restarts_node_by_node_in_order() {
    let (nodes, master) = tagged_trio();
    let before: Vec<Vec<u64>> = nodes.iter().map(|n| n.pids("dummy")).collect();
    let out = ctl(&master, &["--node", "all!node2", "restart", "dummy", "--batch", "1", "--wait"]);
    assert_eq!(out.code, 0, "{out:?}");
    let first = out.stdout.find("batch 1/2: node1").unwrap_or_else(|| panic!("batch 1 is node1: {out:?}"));
    let second = out.stdout.find("batch 2/2: node3").unwrap_or_else(|| panic!("batch 2 is node3: {out:?}"));
    assert!(first < second, "in order: {out:?}");
    assert!(out.stdout.contains("done: node[1,3] (2)"), "{out:?}");
    assert_ne!(nodes[0].pids("dummy"), before[0], "node1 restarted");
    assert_eq!(nodes[1].pids("dummy"), before[1], "node2 excluded");
    assert_ne!(nodes[2].pids("dummy"), before[2], "node3 restarted");
    for node in &nodes {
        assert_eq!(node.status("dummy"), "active");
    }
}

#[test]
fn run_executes_everywhere_reports_exit_codes_and_cleans_up() {
    let (nodes, master) = tagged_trio();
    // Each job runs in its node's own folder (circusd's working directory): it leaves a file
    // there, and the job on node2 then fails on purpose.
    let script = "echo ran > job-output; case \"$PWD\" in *node2*) exit 3;; esac";
    let out = ctl(&master, &["--node", "all", "run", "mark", "--", "sh", "-c", script]);
    assert_eq!(out.code, 3, "one job failed: {out:?}");
    assert!(out.stdout.contains("exit 0 (2): node[1,3]"), "{out:?}");
    assert!(out.stdout.contains("exit 3 (1): node2"), "{out:?}");
    for node in &nodes {
        let written = std::fs::read_to_string(node.dir().join("job-output")).unwrap_or_default();
        assert_eq!(written.trim(), "ran", "{} ran the script", node.name);
        let names = node.watcher_names();
        assert!(!names.iter().any(|w| w.starts_with("run-")), "{}: {names:?}", node.name);
    }
    // The issue's own example, on every node.
    let out = ctl(&master, &["--node", "all", "run", "reset", "--", "sh", "-c", "rm -rf /tmp/exp-data-e2e"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("exit 0 (3): node[1-3]"), "{out:?}");
}
