//! The odd inputs of circus-protocol.md §1.4, sent raw to the master. Where circusd stays silent,
//! the master answers errno 1 or 3 (a client should not wait for its timeout); what circusd
//! accepts, the master accepts too; `cast` runs without a reply; the master keeps serving.

use std::time::{Duration, Instant};

use cluster_e2e::{json, Cluster, Master, Value};

/// Sends `frames` as one message on a fresh connection and returns the reply, if one comes
/// within `wait`.
fn exchange(master: &Master, frames: &[&[u8]], wait: Duration) -> Option<Value> {
    let client = master.client(wait);
    client.send_frames(frames).expect("send");
    let bytes = client.recv_raw(Instant::now() + wait).ok()?;
    Some(serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("reply is not JSON ({e}): {bytes:?}")))
}

fn ask(master: &Master, text: &str) -> Option<Value> {
    exchange(master, &[text.as_bytes()], Duration::from_secs(5))
}

#[test]
fn malformed_requests_get_error_replies() {
    let c = Cluster::start();
    // (input, id expected in the reply)
    let cases: [(&str, Value); 9] = [
        ("not json", Value::Null),
        ("", Value::Null),
        ("   ", Value::Null),
        ("\n", Value::Null),
        ("[1,2]", Value::Null),
        (r#"{"properties": {}, "id": "m1"}"#, json!("m1")),
        (r#"{"command": 5, "properties": {}, "id": "m2"}"#, json!("m2")),
        (r#"{"command": "list", "properties": null, "id": "m3"}"#, json!("m3")),
        (r#"{"command": "list", "properties": 7, "id": 43}"#, json!(43)),
    ];
    let mut failures = Vec::new();
    for (input, id) in cases {
        match ask(&c.master, input) {
            None => failures.push(format!("{input:?}: no reply")),
            Some(reply) => {
                let errno = reply["errno"].as_u64();
                if reply["status"] != "error" || !matches!(errno, Some(1 | 3)) {
                    failures.push(format!("{input:?}: expected errno 1 or 3, got {reply}"));
                } else if reply["id"] != id {
                    failures.push(format!("{input:?}: expected id {id}, got {reply}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "malformed inputs:\n{}", failures.join("\n"));
    let reply = c.master.call("numwatchers", json!({}));
    assert_eq!(reply["numwatchers"], 4, "the master keeps serving: {reply}");
}

#[test]
fn multi_frame_requests_are_never_met_with_silence() {
    let c = Cluster::start();
    let json = br#"{"command": "numwatchers", "properties": {}, "id": "mf"}"#;

    // REQ style, `[b"", json]`: circusd ignores it; clusterd serves it and puts the empty
    // delimiter back in front of the reply, so that REQ clients work too.
    let client = c.master.client(Duration::from_secs(5));
    client.send_frames(&[b"", json]).expect("send");
    let frames = client.recv_frames(Instant::now() + Duration::from_secs(5)).expect("a reply to a REQ-style request");
    assert_eq!(frames.len(), 2, "delimiter + reply: {frames:?}");
    assert!(frames[0].is_empty(), "{frames:?}");
    let reply: Value = serde_json::from_slice(&frames[1]).expect("JSON");
    assert_eq!(reply["numwatchers"], 4, "{reply}");
    assert_eq!(reply["id"], "mf", "{reply}");

    // Any other frame count gets an error reply instead of silence.
    let reply = exchange(&c.master, &[b"a", b"b", json], Duration::from_secs(5)).expect("a reply to 3 frames");
    assert_eq!(reply["status"], "error", "{reply}");
    assert!(matches!(reply["errno"].as_u64(), Some(1 | 3)), "{reply}");

    let reply = c.master.call("numwatchers", json!({}));
    assert_eq!(reply["numwatchers"], 4, "the master keeps serving: {reply}");
}

#[test]
fn inputs_circusd_accepts_are_accepted() {
    let c = Cluster::start();
    let reply = ask(&c.master, r#"{"command": "NumWatchers", "properties": {}, "id": 42}"#).expect("reply");
    assert_eq!(reply["numwatchers"], 4, "{reply}");
    assert_eq!(reply["id"], 42, "a numeric id is echoed as a number: {reply}");
    assert!(reply["id"].is_u64());

    let reply = ask(&c.master, r#"{"command": "numwatchers", "properties": {}}"#).expect("reply");
    assert_eq!(reply["status"], "ok", "{reply}");
    assert!(reply["id"].is_null(), "no id gives \"id\": null: {reply}");
    assert!(reply.as_object().is_some_and(|o| o.contains_key("id")), "{reply}");

    let reply = ask(&c.master, r#"{"command": "list", "id": "np"}"#).expect("reply");
    assert!(reply["watchers"].is_array(), "no properties means {{}}: {reply}");
    let reply = ask(&c.master, r#"{"command": "list", "properties": [], "id": "pa"}"#).expect("reply");
    assert!(reply["watchers"].is_array(), "properties [] works for list: {reply}");
    let reply =
        ask(&c.master, "\n  {\"command\": \"status\", \"properties\": {\"name\": \"first:dummy\"}, \"id\": \"ws\"}\n ")
            .expect("reply");
    assert_eq!(reply["status"], "active", "whitespace around the JSON: {reply}");
    assert_eq!(reply["id"], "ws");

    // Unknown command, no node: an errno 2 error naming it, like circusd.
    let reply = ask(&c.master, r#"{"command": "bogus", "properties": {}, "id": "u1"}"#).expect("reply");
    assert_eq!(reply["status"], "error", "{reply}");
    assert_eq!(reply["errno"], 2, "{reply}");
    assert!(reply["reason"].as_str().unwrap_or_default().contains("bogus"), "{reply}");
    assert_eq!(reply["id"], "u1");
}

#[test]
fn cast_runs_without_a_reply() {
    let c = Cluster::start();
    let client = c.master.client(Duration::from_secs(5));
    let cast = br#"{"command": "incr", "properties": {"name": "first:dummy"}, "msg_type": "cast", "id": "c1"}"#;
    client.send_raw(cast).expect("send");
    c.first.wait_numprocesses("dummy", 2);
    // No reply was sent: the next frame on this socket answers the next request.
    let silence = client.recv_raw(Instant::now() + Duration::from_millis(500));
    assert!(silence.is_err(), "a cast got a reply: {:?}", silence.map(|b| String::from_utf8_lossy(&b).into_owned()));
    client
        .send_raw(br#"{"command": "numprocesses", "properties": {"name": "first:dummy"}, "id": "after"}"#)
        .expect("send");
    let bytes = client.recv_raw(Instant::now() + Duration::from_secs(5)).expect("reply after a cast");
    let reply: Value = serde_json::from_slice(&bytes).expect("JSON");
    assert_eq!(reply["id"], "after", "{reply}");
    assert_eq!(reply["numprocesses"], 2, "{reply}");
}
