//! The audit log: `audit_log = "FILE"` gets one JSON line per command that changes something
//! (client, endpoint, nodes, command, outcome), none for reads, and stderr keeps none of them.

use cluster_e2e::cli::circusctl_retry;
use cluster_e2e::master::{node_section, CLUSTER_SECTION};
use cluster_e2e::{json, wait_for, CircusNode, Master, Value};

/// The audit file's lines, parsed.
fn entries(master: &Master) -> Vec<Value> {
    let text = std::fs::read_to_string(master.dir().join("audit.jsonl")).unwrap_or_default();
    text.lines().map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))).collect()
}

#[test]
fn changing_commands_are_audited_to_their_own_file() {
    let first = CircusNode::start("first", &[("dummy", 1)]);
    let config = format!("{CLUSTER_SECTION}audit_log = \"audit.jsonl\"\n{}", node_section(&first));
    let master = Master::start_with_config(&config);
    assert!(master.dir().join("audit.jsonl").exists(), "created at start-up, next to the config");

    assert!(circusctl_retry(&master.endpoint, &["status"]).ok().contains("first:dummy"));
    assert!(entries(&master).is_empty(), "reads are not audited: {:?}", entries(&master));

    assert_eq!(circusctl_retry(&master.endpoint, &["incr", "first:dummy"]).ok().trim(), "ok");
    let reply = master.call("decr", json!({"name": "first:nosuch"}));
    assert_eq!(reply["status"], "error", "{reply}");

    let lines = wait_for("the audit lines", || {
        let lines = entries(&master);
        if lines.iter().any(|l| l["command"] == "decr") {
            Ok(lines)
        } else {
            Err(format!("{lines:?}"))
        }
    });
    assert!(lines.iter().all(|l| l["command"] != "status" && l["command"] != "nodes"), "{lines:?}");
    let incr =
        lines.iter().find(|l| l["command"] == "incr" && l["outcome"] == "ok").unwrap_or_else(|| panic!("{lines:?}"));
    assert_eq!(incr["nodes"], "first", "{incr}");
    assert_eq!(incr["endpoint"], "command", "{incr}");
    let client = incr["client"].as_str().unwrap_or_default();
    assert!(!client.is_empty() && client.chars().all(|c| c.is_ascii_hexdigit()), "{incr}");
    assert!(incr["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{incr}");
    let decr = lines.iter().find(|l| l["command"] == "decr").expect("decr");
    assert_eq!((&decr["outcome"], &decr["nodes"]), (&json!("error"), &json!("first")), "{decr}");
    assert!(decr["reason"].as_str().is_some_and(|r| r.contains("nosuch")), "{decr}");
    assert!(!master.stderr().contains("clusterd::audit"), "audit events go to the file only:\n{}", master.stderr());
}
