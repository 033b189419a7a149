//! `clusterctl --node all run` prints each node's output gathered like `clush -b` (issue 16):
//! real circusd workers with `clusterctl join` log agents; a job that exits at once (its
//! watcher gone long before the agent's periodic look at circusd) still has its output read.

use cluster_e2e::cli::{clusterctl, Run};
use cluster_e2e::worker::{logging_master, logging_worker, FILE_STREAM, PRINTER};
use cluster_e2e::{json, retry_busy, CircusNode, Master};

/// The rule lines around a group's nodes, as `clush -b` prints them.
const RULE: &str = "---------------";

/// `clusterctl --node all run echo ... -- CMD` on `master`, which must exit 0.
fn run(master: &Master, extra: &[&str], command: &str) -> Run {
    let mut args = vec!["--endpoint", master.endpoint.as_str(), "--timeout", "10", "--node", "all"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["run", "echo", "--", "sh", "-c", command]);
    let out = retry_busy(|| clusterctl(&args), Run::busy);
    assert_eq!(out.code, 0, "{out:?}");
    out
}

/// No `run-*` output file is left in the node's folder.
#[track_caller]
fn assert_no_output_files(node: &CircusNode) {
    let names: Vec<String> = std::fs::read_dir(node.dir())
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with("run-"))
        .collect();
    assert!(names.is_empty(), "left behind: {names:?}");
}

#[test]
fn identical_outputs_are_printed_once_and_a_differing_node_apart() {
    let master = logging_master();
    let nodes: Vec<CircusNode> =
        ["ro1", "ro2", "ro3"].iter().map(|name| logging_worker(name, &master, PRINTER, FILE_STREAM)).collect();
    // The job runs in circusd's folder: only ro3 has the marker.
    std::fs::write(nodes[2].dir().join("marker"), "").unwrap();
    let command = "echo same; test -e marker && echo marked; echo oops >&2; true";

    let out = run(&master, &[], command);
    let text = out.stdout.as_str();
    let block = |nodes: &str| {
        let head = format!("{RULE}\n{nodes}\n{RULE}\n");
        let start = text.find(&head).unwrap_or_else(|| panic!("no block for {nodes}: {out:?}")) + head.len();
        let rest = &text[start..];
        rest[..rest.find(RULE).or_else(|| rest.find("exit 0")).unwrap_or(rest.len())].to_string()
    };
    let mut shared: Vec<&str> = Vec::new();
    let same_block = block("ro[1-2] (2)");
    shared.extend(same_block.lines());
    shared.sort_unstable();
    assert_eq!(shared, ["oops", "same"], "{out:?}");
    let apart_block = block("ro3 (1)");
    let mut apart: Vec<&str> = apart_block.lines().collect();
    apart.sort_unstable();
    assert_eq!(apart, ["marked", "oops", "same"], "{out:?}");
    assert_eq!(text.matches(RULE).count(), 4, "two blocks only: {out:?}");
    assert!(text.contains("exit 0 (3): ro[1-3]"), "{out:?}");
    for node in &nodes {
        assert_no_output_files(node);
    }

    // `logs` is a read: it deletes nothing but a job's files.
    let refused = master.call("logs", json!({"node": "ro1", "watcher": "printer", "forget": true}));
    assert_eq!(refused["status"], "error", "{refused}");
    assert!(refused["reason"].as_str().unwrap_or_default().contains("only for the output of a `run` job"), "{refused}");
    assert!(nodes[0].dir().join("printer.out").exists());

    // --json: each node's own output.
    let out = run(&master, &["--json"], r#"echo "in $(basename "$(pwd -P)")""#);
    let lines: Vec<serde_json::Value> = out.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3, "{out:?}");
    for (line, node) in lines.iter().zip(&nodes) {
        let folder = node.dir().file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(line["output"], json!(format!("in {folder}")), "{out:?}");
    }
}

#[test]
fn a_node_without_a_log_agent_is_named_and_the_job_still_reported() {
    let node = CircusNode::start("plainrun", &[("dummy", 1)]);
    let master = Master::start(&[&node]);
    let args =
        ["--endpoint", master.endpoint.as_str(), "--timeout", "10", "--node", "plainrun", "run", "x", "--", "true"];
    let out = retry_busy(|| clusterctl(&args), Run::busy);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("exit 0 (1): plainrun"), "{out:?}");
    assert!(out.stderr.contains("output of plainrun not gathered: node plainrun has no log agent"), "{out:?}");
}
