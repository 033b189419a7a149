//! A worker on another host joins the master through `clusterctl join` with the master's
//! `register_secret`, the master bound on its host's address with `allow_remote = true`; a
//! worker with a wrong secret, on a third host, is refused, and the refusal is audited.

use cluster_e2e::lab::Lab;
use cluster_e2e::master::{assert_entry, CLUSTER_SECTION};
use cluster_e2e::node::Binding;
use cluster_e2e::worker::worker_ini;
use cluster_e2e::{wait_for, CircusNode, Master, Value};

use super::wait_circusctl_line;

const SECRET: &str = "lab-Secret-19c4";

/// A worker circusd on `host`, named like its host, joining `master` with `secret`.
fn worker(lab: &Lab, host: &str, master: &str, secret: &str) -> CircusNode {
    let ini = worker_ini(host, master, Some(secret));
    lab.within(host, || {
        CircusNode::start_from_template_at(Binding::host(lab.address(host)), host, &ini, &[("work", 1)])
    })
}

/// The audit file's lines, parsed.
fn audit(master: &Master) -> Vec<Value> {
    let text = std::fs::read_to_string(master.dir().join("audit.jsonl")).unwrap_or_default();
    text.lines().map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))).collect()
}

#[test]
fn a_worker_joins_from_another_host_and_a_wrong_secret_is_refused_and_audited() {
    let Some(lab) = Lab::new(["h1", "h2"]) else { return };
    let endpoint = lab.endpoint("m", 5558);
    let config = format!(
        "{CLUSTER_SECTION}allow_remote = true\nregister_secret = \"{SECRET}\"\naudit_log = \"audit.jsonl\"\n\
         state_file = \"\"\n"
    );
    let master = lab.within("m", || Master::start_at(&endpoint, &config));
    let good = worker(&lab, "h1", &endpoint, SECRET);
    let bad = worker(&lab, "h2", &endpoint, "guess");

    let entry = lab.within("m", || master.wait_alive("h1"));
    assert_entry(&entry, &good, "registered");
    assert_eq!(entry["endpoint"], format!("tcp://{}:5555", lab.address("h1")), "{entry}");
    wait_circusctl_line(&lab, &master, &["status", "h1:work"], "active");

    wait_for("the worker on h2 to be refused", || {
        let log = bad.log();
        match log.lines().find(|l| l.contains("refused node h2")) {
            Some(line) if line.contains("register_secret is set") => Ok(()),
            _ => Err(log.lines().filter(|l| l.starts_with("clusterctl join")).collect::<Vec<_>>().join(" | ")),
        }
    });
    assert!(lab.within("m", || master.node_entry("h2")).is_none(), "a refused worker is not registered");

    let lines = wait_for("the refusal in the audit log", || {
        let lines = audit(&master);
        if lines.iter().any(|l| l["command"] == "register_node" && l["outcome"] == "error") {
            Ok(lines)
        } else {
            Err(format!("{lines:?}"))
        }
    });
    let refused = lines.iter().find(|l| l["command"] == "register_node" && l["outcome"] == "error").expect("refusal");
    assert_eq!(refused["errno"], 3, "{refused}");
    assert!(refused["reason"].as_str().is_some_and(|r| r.contains("register_secret")), "{refused}");
    assert!(lines.iter().any(|l| l["command"] == "register_node" && l["outcome"] == "ok"), "{lines:?}");
    let text = std::fs::read_to_string(master.dir().join("audit.jsonl")).unwrap_or_default();
    assert!(!text.contains(SECRET) && !text.contains("guess"), "no secret in the audit log:\n{text}");
}
