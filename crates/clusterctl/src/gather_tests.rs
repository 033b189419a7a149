//! Tests of [`super`]: grouping, ordering, failures and JSON lines.

use super::*;
use crate::commands::{default_console, query, reply};

/// A gathered reply as the master sends it.
const THREE: &str = r#"{"status": "error", "reason": "1 of 3 nodes failed: node second: node second timed out after 4s", "tb": null, "time": 1.5, "errno": 5, "replies": {"third": {"status": "active", "time": 1.2}, "second": {"status": "error", "reason": "node second timed out after 4s", "errno": 5}, "first": {"status": "active", "time": 1.1}}, "id": "x"}"#;

#[test]
fn replies_are_read_in_node_order() {
    let gathered = Gathered::from_reply(&reply(THREE)).unwrap();
    let nodes: Vec<&str> = gathered.replies.iter().map(|r| r.node.as_str()).collect();
    assert_eq!(nodes, ["first", "second", "third"]);
    assert!(gathered.any_failed());
    assert!(gathered.get("second").unwrap().failed());
    assert!(!gathered.get("first").unwrap().failed());
    assert_eq!(gathered.get("second").unwrap().reason(), "node second timed out after 4s");
    // Not gathered: a single node's reply, or an error about the request.
    assert!(Gathered::from_reply(&reply(r#"{"status": "active", "time": 1.0}"#)).is_none());
    assert!(Gathered::from_reply(&reply(r#"{"status": "error", "reason": "no", "errno": 3}"#)).is_none());
}

#[test]
fn identical_outputs_are_grouped_and_failures_counted() {
    let console = render_console(&Gathered::from_reply(&reply(THREE)).unwrap(), query::render_status);
    assert_eq!(console.out, format!("{RULE}\nfirst,third (2)\n{RULE}\nactive\n"));
    assert_eq!(console.err, format!("{RULE}\nsecond (1): node second timed out after 4s\n"));
}

#[test]
fn groups_are_ordered_by_size_then_node() {
    let text = r#"{"status": "error", "replies": {
        "n1": {"status": "ok", "numprocesses": 2}, "n2": {"status": "ok", "numprocesses": 1},
        "n3": {"status": "ok", "numprocesses": 1}, "n10": {"status": "ok", "numprocesses": 3},
        "n4": {"status": "error", "reason": "program x not found", "errno": 3},
        "n5": {"status": "error", "reason": "node n5 is down\n(missed 3 probes)", "errno": 5},
        "n6": {"status": "error", "reason": "program x not found", "errno": 3}}}"#;
    let console = render_console(&Gathered::from_reply(&reply(text)).unwrap(), query::render_numprocesses);
    let expected = format!("{RULE}\nn[2-3] (2)\n{RULE}\n1\n{RULE}\nn1 (1)\n{RULE}\n2\n{RULE}\nn10 (1)\n{RULE}\n3\n");
    assert_eq!(console.out, expected);
    assert_eq!(
        console.err,
        format!("{RULE}\nn[4,6] (2): program x not found\nn5 (1): node n5 is down (missed 3 probes)\n")
    );
}

#[test]
fn every_node_ok_prints_no_failures() {
    let text = r#"{"status": "ok", "time": 1.0, "replies": {"b": {"status": "ok"}, "a": {"status": "ok"}}, "id": 1}"#;
    let gathered = Gathered::from_reply(&reply(text)).unwrap();
    let console = render_console(&gathered, default_console);
    assert_eq!(console.out, format!("{RULE}\na,b (2)\n{RULE}\nok\n"));
    assert_eq!(console.err, "");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = print(&reply(text), &gathered, default_console, false, false, &mut out, &mut err).unwrap();
    assert_eq!(code, exit::OK);
    let code = print(
        &reply(THREE),
        &Gathered::from_reply(&reply(THREE)).unwrap(),
        default_console,
        false,
        false,
        &mut out,
        &mut err,
    );
    assert_eq!(code.unwrap(), exit::ERROR_REPLY);
}

#[test]
fn unprintable_and_malformed_entries_are_failures() {
    let text = r#"{"status": "ok", "replies": {"a": {"status": "ok", "sockets": 3}, "b": 7}}"#;
    let console = render_console(&Gathered::from_reply(&reply(text)).unwrap(), query::render_listsockets);
    assert_eq!(console.out, "");
    assert_eq!(
        console.err,
        format!(
            "{RULE}\na (1): malformed reply: missing or invalid 'sockets'\n\
             b (1): malformed reply: expected an object, got 7\n"
        )
    );
}

#[test]
fn json_lines_are_one_object_per_node() {
    let gathered = Gathered::from_reply(&reply(THREE)).unwrap();
    let lines = json_lines(&gathered, false);
    assert_eq!(
        lines,
        [
            r#"{"node": "first", "reply": {"status": "active", "time": 1.1}}"#,
            r#"{"node": "second", "reply": {"status": "error", "reason": "node second timed out after 4s", "errno": 5}}"#,
            r#"{"node": "third", "reply": {"status": "active", "time": 1.2}}"#,
        ]
    );
    let pretty = json_lines(&gathered, true);
    assert!(pretty[0].starts_with("{\n  \"node\": \"first\",\n  \"reply\": {"), "{}", pretty[0]);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    assert_eq!(print(&reply(THREE), &gathered, default_console, true, false, &mut out, &mut err).unwrap(), exit::OK);
    assert_eq!(String::from_utf8(out).unwrap().lines().count(), 3);
}

#[test]
fn made_up_failures() {
    let gathered = Gathered::all_failed(&["a".into(), "b".into()], "Timed out.");
    assert!(gathered.replies.iter().all(NodeReply::failed));
    assert_eq!(gathered.replies[1].reason(), "Timed out.");
    assert_eq!(one_line("a\n  b\r\n\nc"), "a b c");
}
