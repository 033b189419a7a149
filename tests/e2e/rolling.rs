//! clusterctl over node sets with three real circusd nodes: gathered output (identical answers
//! grouped, failures counted), `--batch 1 --wait` restarting node by node in order, and `run`
//! executing a script on every node with each exit code reported and no watcher left behind.

use cluster_e2e::cli::{clusterctl, Run};
use cluster_e2e::cluster::tagged_trio;
use cluster_e2e::{retry_busy, Master};

/// `clusterctl --endpoint <master> --timeout 10 <args>`, again while circusd reports its lock.
fn ctl(master: &Master, args: &[&str]) -> Run {
    let mut all = vec!["--endpoint", master.endpoint.as_str(), "--timeout", "10"];
    all.extend_from_slice(args);
    retry_busy(|| clusterctl(&all), Run::busy)
}

#[test]
fn gathered_output_groups_identical_answers_and_counts_failures() {
    let (mut nodes, master) = tagged_trio();
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
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = dir.path().join("ran");
    // Each node writes its own file; node2 then fails on purpose.
    let script =
        format!("echo ok > {marker}-$NODE; if [ \"$NODE\" = node2 ]; then exit 3; fi", marker = marker.display());
    let mut handles = Vec::new();
    for node in &nodes {
        // The node name reaches the job through --env per node: run the job once per node set.
        let out = ctl(
            &master,
            &["--node", &node.name, "run", "mark", "--env", &format!("NODE={}", node.name), "--", "sh", "-c", &script],
        );
        handles.push((node.name.clone(), out));
    }
    for (name, out) in &handles {
        let expected = if name == "node2" { 3 } else { 0 };
        assert_eq!(out.code, if expected == 0 { 0 } else { 3 }, "{name}: {out:?}");
        assert!(out.stdout.contains(&format!("exit {expected} (1): {name}")), "{name}: {out:?}");
        assert!(std::path::Path::new(&format!("{}-{name}", marker.display())).exists(), "{name} ran the script");
    }
    // One run over all nodes: the gathered summary, and no watcher left anywhere.
    let out = ctl(&master, &["--node", "all", "run", "reset", "--", "sh", "-c", "rm -rf /nonexistent-exp-data"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("exit 0 (3): node[1-3]"), "{out:?}");
    for node in &nodes {
        let names = node.watcher_names();
        assert!(!names.iter().any(|w| w.starts_with("run-")), "{}: {names:?}", node.name);
    }
}
