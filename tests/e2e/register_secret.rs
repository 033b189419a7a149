//! `register_secret`: `register_node` and `unregister_node` need it, from a raw client,
//! `clusterctl --secret` / `CLUSTERCTL_SECRET`, or a joining worker's ini.

use std::path::Path;

use cluster_e2e::cli::{clusterctl, run};
use cluster_e2e::master::CLUSTER_SECTION;
use cluster_e2e::worker::worker_ini;
use cluster_e2e::{json, paths, wait_for, CircusNode, Master, Value};

const SECRET: &str = "e2e-Secret-7f3a";

fn master() -> Master {
    Master::start_with_config(&format!("{CLUSTER_SECTION}register_secret = \"{SECRET}\"\nstate_file = \"\"\n"))
}

/// The `register_node` properties of `node`, plus `extra`.
fn registration(node: &CircusNode, extra: Value) -> Value {
    let mut props = json!({
        "name": node.name, "endpoint": node.endpoint,
        "stats_endpoint": node.stats_endpoint, "pubsub_endpoint": node.pubsub_endpoint,
    });
    props.as_object_mut().expect("object").extend(extra.as_object().cloned().unwrap_or_default());
    props
}

#[track_caller]
fn assert_refused(reply: &Value, command: &str) {
    assert_eq!(reply["errno"], 3, "{reply}");
    let reason = reply["reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with(&format!("register_secret is set: {command} needs the right \"secret\"")), "{reason}");
    assert!(!reason.contains(SECRET), "the reason must not show the secret: {reason}");
}

#[test]
fn registry_commands_need_the_secret() {
    let master = master();
    let node = CircusNode::start("second", &[("dummy", 1)]);
    for extra in [json!({}), json!({"secret": "wrong"}), json!({"secret": ""}), json!({"secret": 42})] {
        assert_refused(&master.call("register_node", registration(&node, extra)), "register_node");
    }
    assert!(master.node_entry("second").is_none(), "the registry is unchanged");

    let ok = clusterctl(&[
        "--endpoint",
        &master.endpoint,
        "register_node",
        "second",
        &node.endpoint,
        &node.stats_endpoint,
        &node.pubsub_endpoint,
        "--secret",
        SECRET,
    ]);
    assert!(ok.ok().starts_with("registered second"), "{ok:?}");
    master.wait_alive("second");

    assert_refused(&master.call("unregister_node", json!({"name": "second"})), "unregister_node");
    assert_refused(&master.call("unregister_node", json!({"name": "second", "secret": "nope"})), "unregister_node");
    assert!(master.node_entry("second").is_some(), "still registered");
    // The environment variable, which keeps the secret out of `ps`.
    let env = format!("CLUSTERCTL_SECRET={SECRET}");
    let clusterctl = paths::workspace_bin("clusterctl");
    let removed = run(
        Path::new("/usr/bin/env"),
        [env.as_str(), &clusterctl.display().to_string(), "--endpoint", &master.endpoint, "unregister_node", "second"],
    );
    assert_eq!(removed.ok().trim(), "removed second");
    assert!(master.node_entry("second").is_none());
    assert!(!master.stderr().contains(SECRET), "the secret never reaches the log");
}

#[test]
fn a_worker_joins_with_the_secret_from_its_ini_and_leaves_with_it() {
    let master = master();
    let mut good =
        CircusNode::start_from_template("good", &worker_ini("good", &master.endpoint, Some(SECRET)), &[("work", 1)]);
    let bad =
        CircusNode::start_from_template("bad", &worker_ini("bad", &master.endpoint, Some("guess")), &[("work", 1)]);
    master.wait_alive("good");
    wait_for("the refused worker to say so", || {
        let log = bad.log();
        match log.lines().find(|l| l.contains("refused node bad")) {
            Some(line) if line.contains("register_secret is set") => Ok(()),
            _ => Err(log.lines().filter(|l| l.starts_with("clusterctl join")).collect::<Vec<_>>().join(" | ")),
        }
    });
    assert!(master.node_entry("bad").is_none());
    assert!(!bad.log().contains(SECRET) && !good.log().contains(SECRET), "no secret in the workers' logs");

    // circusd stopping its watchers: the joiner unregisters, secret included.
    good.stop();
    wait_for("good to leave", || match master.node_entry("good") {
        None => Ok(()),
        Some(entry) => Err(entry.to_string()),
    });
    assert!(good.log().contains("clusterctl join: unregistered node good"), "{}", good.log());
}
