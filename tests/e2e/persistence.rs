//! The state file: registered nodes survive a master `kill -9`; a corrupt state file stops the
//! start-up with a message naming the file, the last good copy and `--reset-state`.

use std::process::{Command, Stdio};

use cluster_e2e::master::{run_to_exit, write_file, CLUSTER_SECTION};
use cluster_e2e::{json, ok, paths, procs, wait_for, CircusNode, Master};

#[test]
fn registered_nodes_survive_a_master_kill9() {
    let first = CircusNode::start("first", &[("dummy", 1)]);
    let second = CircusNode::start("second", &[("dummy2", 1)]);
    let mut master = Master::start(&[&first]);
    ok(master.call(
        "register_node",
        json!({"name": "second", "endpoint": second.endpoint, "stats_endpoint": second.stats_endpoint}),
    ));
    let state = master.dir().join("clusterd-state.json");
    wait_for("the state file to name second", || {
        let text = std::fs::read_to_string(&state).map_err(|e| e.to_string())?;
        if text.contains("\"second\"") {
            Ok(())
        } else {
            Err(text)
        }
    });

    master.kill9();
    master.restart();
    master.wait_node_state("second", "alive");
    let entry = master.node_entry("second").expect("second is back");
    assert_eq!(entry["source"], "registered", "{entry}");
    assert_eq!(entry["endpoint"], second.endpoint.as_str(), "{entry}");
    // Requests reach it again, and the configured node is there as before.
    let reply = master.call("numprocesses", json!({"name": "second:dummy2"}));
    assert_eq!(reply["numprocesses"], 1, "{reply}");
    assert_eq!(master.node_entry("first").expect("first")["source"], "config");
}

#[test]
fn a_corrupt_state_file_gives_the_way_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let endpoints =
        (cluster_e2e::ports::free_endpoint(), cluster_e2e::ports::free_endpoint(), cluster_e2e::ports::free_endpoint());
    let config_text = CLUSTER_SECTION
        .replace("{endpoint}", &endpoints.0)
        .replace("{stats_endpoint}", &endpoints.1)
        .replace("{pubsub_endpoint}", &endpoints.2)
        + "state_file = \"nodes.json\"\n";
    let config = write_file(dir.path(), "cluster.toml", &config_text);
    let state = write_file(dir.path(), "nodes.json", "{\"version\": 1, \"nodes\": [tru");

    let out = run_to_exit(&config);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains(&state.display().to_string()), "names the file: {stderr}");
    assert!(stderr.contains("nodes.json.prev"), "names the last good copy: {stderr}");
    assert!(stderr.contains("--reset-state"), "names the way out: {stderr}");
    assert!(state.exists(), "the corrupt file is left alone");

    // --reset-state moves it aside and starts.
    let mut child = procs::spawn(
        Command::new(paths::workspace_bin("clusterd"))
            .arg("--reset-state")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let reply = wait_for("clusterd to start after --reset-state", || {
        cluster_e2e::call(&endpoints.0, "nodes", json!({}), std::time::Duration::from_millis(500))
    });
    procs::terminate(&mut child, std::time::Duration::from_secs(5));
    assert_eq!(reply["nodes"], json!([]), "{reply}");
    assert!(dir.path().join("nodes.json.corrupt").exists(), "moved aside");
}
