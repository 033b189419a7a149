//! Feeds arbitrary publications (topic, then a 0 byte, then payload) to the master's stream
//! rewriter, as a node's stats or event stream would: it must never panic, and whatever it
//! would republish must be UTF-8 topics and valid JSON objects carrying the node's name, so
//! that no subscriber (stock circus-top) can be killed by a node.

#![no_main]

use clusterd::streams::rewrite::{self, Stat};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const NODE: &str = "fuzz-node";

fuzz_target!(|bytes: &[u8]| {
    let (topic, payload) = match bytes.iter().position(|&b| b == 0) {
        Some(at) => (&bytes[..at], &bytes[at + 1..]),
        None => (bytes, &b""[..]),
    };
    if let Some(spliced) = rewrite::splice_node(payload, NODE) {
        let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(&spliced) else {
            panic!("spliced payload is not a JSON object: {:?}", String::from_utf8_lossy(&spliced));
        };
        assert_eq!(object.get("node").and_then(Value::as_str), Some(NODE));
    }
    match rewrite::classify_stat(NODE, topic) {
        Some(Stat::Forward(out)) => assert!(std::str::from_utf8(&out).is_ok_and(|t| t.starts_with("stat.fuzz-node-"))),
        Some(Stat::Socket(fd)) => {
            if let Some((out, json)) = rewrite::socket_stat(NODE, 7, fd, payload) {
                assert!(out.starts_with(b"stat.sockets.7"));
                assert!(serde_json::from_slice::<Value>(&json).is_ok_and(|v| v.is_object()));
            }
        }
        Some(Stat::SocketsTotal) => {
            if let Some(total) = rewrite::sockets_total(NODE, payload) {
                let merged = rewrite::merged_sockets_total(std::iter::once(&total));
                assert!(serde_json::from_slice::<Value>(&merged).is_ok_and(|v| v.is_object()));
            }
        }
        None => {}
    }
    if let Some(out) = rewrite::event_topic(NODE, topic) {
        assert!(std::str::from_utf8(&out).is_ok_and(|t| t.starts_with("watcher.fuzz-node:")));
    }
});
