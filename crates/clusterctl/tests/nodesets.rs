//! Node sets end to end against a scripted master (a ROUTER answering by command, and a PUB for
//! events): gathered output, a rolling restart and a one-shot job, with what goes on the wire.

mod common;

use common::ports::free_endpoint;
use common::run;
use common::scripted::serve as master;

use serde_json::{json, Value};

#[test]
fn a_gathered_reply_is_grouped_like_clush() {
    let reply = json!({"status": "error", "reason": "1 of 3 nodes failed", "tb": null, "time": 1.0, "errno": 5,
        "replies": {"first": {"status": "active", "time": 1.0}, "third": {"status": "active", "time": 1.0},
                    "second": {"status": "error", "reason": "node second timed out after 4s", "errno": 5}}});
    let (endpoint, handle) = master(2, None, Box::new(move |_, _| (reply.clone(), vec![])));
    let (code, out, err) = run(&["--endpoint", &endpoint, "--node", "all", "status", "dummy"]);
    assert_eq!(code, 3);
    assert_eq!(out, "---------------\nfirst,third (2)\n---------------\nactive\n");
    assert_eq!(err, "---------------\nsecond (1): node second timed out after 4s\n");
    let (code, out, _) = run(&["--endpoint", &endpoint, "--node", "all", "status", "dummy", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(
        out.lines().nth(1),
        Some(
            r#"{"node": "second", "reply": {"status": "error", "reason": "node second timed out after 4s", "errno": 5}}"#
        )
    );
    let seen = handle.join().unwrap();
    assert_eq!(seen[0].properties, json!({"name": "dummy", "node": "all"}));
}

#[test]
fn the_issue_rolling_restart() {
    let respond = |command: &str, _: &Value| match command {
        "nodeset" => (json!({"status": "ok", "time": 1.0, "nodes": ["first", "third"]}), vec![]),
        "restart" => (json!({"status": "ok", "time": 1.0}), vec![]),
        _ => (json!({"status": "active", "time": 1.0}), vec![]),
    };
    let (endpoint, handle) = master(5, None, Box::new(respond));
    let (code, out, err) =
        run(&["--endpoint", &endpoint, "--node", "all!second", "restart", "dummy", "--batch", "1", "--wait"]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(out.ends_with("== summary\ndone: first,third (2)\n"), "{out}");
    let seen = handle.join().unwrap();
    let sent: Vec<(String, String)> = seen
        .iter()
        .map(|seen| (seen.command.clone(), seen.properties["node"].as_str().unwrap_or("").to_string()))
        .collect();
    let expected =
        [("nodeset", ""), ("restart", "first"), ("status", "first"), ("restart", "third"), ("status", "third")];
    assert_eq!(sent, expected.map(|(c, n)| (c.to_string(), n.to_string())));
    assert_eq!(seen[0].properties, json!({"expr": "all!second"}));
}

#[test]
fn the_issue_one_shot_job() {
    let pubsub = free_endpoint();
    let advertised = pubsub.clone();
    let respond = move |command: &str, props: &Value| match command {
        "nodeset" => (json!({"status": "ok", "nodes": ["a", "b"]}), vec![]),
        "globaloptions" => (json!({"status": "ok", "options": {"pubsub_endpoint": advertised}}), vec![]),
        // circusd publishes `add` for a new watcher: the job waits for those before `start`.
        "add" => {
            let watcher = props["name"].as_str().unwrap().to_string();
            let topic = |node: &str| format!("watcher.{node}:{watcher}.add");
            let events =
                vec![(topic("a"), json!({"time": 0.5, "node": "a"})), (topic("b"), json!({"time": 0.5, "node": "b"}))];
            let added = json!({"a": {"status": "ok"}, "b": {"status": "ok"}});
            (json!({"status": "ok", "replies": added}), events)
        }
        "start" => {
            let watcher = props["name"].as_str().unwrap().to_string();
            let topic = |node: &str, event: &str| format!("watcher.{node}:{watcher}.{event}");
            let events = vec![
                (topic("a", "spawn"), json!({"process_pid": 10, "time": 1.0, "node": "a"})),
                (topic("a", "reap"), json!({"process_pid": 10, "time": 1.5, "exit_code": 0, "node": "a"})),
                (topic("b", "spawn"), json!({"process_pid": 11, "time": 2.0, "node": "b"})),
                (topic("b", "reap"), json!({"process_pid": 11, "time": 2.25, "exit_code": 2, "node": "b"})),
            ];
            (json!({"status": "ok", "replies": {"a": {"status": "ok"}, "b": {"status": "ok"}}}), events)
        }
        // The job's output, gathered from the nodes' log agents before the watcher goes: `exit 0`
        // prints nothing, and empty outputs are not shown.
        "logs" => {
            assert_eq!(props["forget"], json!(true), "{props}");
            (json!({"status": "ok", "logs": {"a": [], "b": []}}), vec![])
        }
        _ => (json!({"status": "ok", "replies": {"a": {"status": "ok"}, "b": {"status": "ok"}}}), vec![]),
    };
    let (endpoint, handle) = master(6, Some(pubsub), Box::new(respond));
    let (code, out, err) = run(&["--endpoint", &endpoint, "--node", "all", "run", "reset", "--", "sh", "-c", "exit 0"]);
    assert_eq!(err, "");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("== run-reset-") && lines[0].ends_with(" on a,b (2): sh -c 'exit 0'"), "{out}");
    assert_eq!(lines[1..], ["exit 0 (1): a [0.50s]", "exit 2 (1): b [0.25s]"]);
    assert_eq!(code, 3);
    let seen = handle.join().unwrap();
    let commands: Vec<&str> = seen.iter().map(|seen| seen.command.as_str()).collect();
    assert_eq!(commands, ["nodeset", "globaloptions", "add", "start", "logs", "rm"]);
    let (add, logs, rm) = (&seen[2].properties, &seen[4].properties, &seen[5].properties);
    assert_eq!(add["node"], "a,b");
    // Added unstarted; started once the add events came back.
    assert_eq!((&add["cmd"], &add["args"], &add["start"]), (&json!("sh"), &json!(["-c", "exit 0"]), &json!(false)));
    assert_eq!(seen[3].properties, json!({"name": add["name"], "waiting": false, "match": "simple", "node": "a,b"}));
    assert_eq!(add["options"]["respawn"], false);
    assert_eq!((&logs["watcher"], &logs["node"]), (&add["name"], &json!("a,b")));
    assert_eq!(rm, &json!({"name": add["name"], "nostop": false, "waiting": false, "node": "a,b"}));
}
