//! Rewriting one node's publications for the merged streams, on the bytes.
//!
//! The hot path (every stats message of every node) only prefixes the topic and splices
//! `, "node": "<node>"` before the payload's closing brace: no JSON values are built, no
//! re-encoding. That is safe because node names are checked to be `[A-Za-z0-9_-]` (nothing to
//! escape) and only payloads that are a valid JSON object in UTF-8 are spliced (checked by
//! `str::from_utf8` and a pass that keeps nothing, `serde::de::IgnoredAny`); anything else is
//! refused, since
//! a subscriber such as stock circus-top dies on the first payload it cannot decode. Topics must
//! be UTF-8 without control characters.
//! Socket stats, a handful per node per second, are parsed and rebuilt, since their `subtopic`
//! and `address` change (circus-protocol.md §5.3 rule 3).

use clusterd_protocol::pyjson;
use serde_json::Value;

/// Subtopics of merged socket stats are `node_index * SOCKET_SPACE + fd`, unique per node.
pub const SOCKET_SPACE: u64 = 100_000;

/// What a stats topic is, for the merged stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Stat {
    /// A watcher (or `circus`) aggregate or process: republish under this topic.
    Forward(Vec<u8>),
    /// `stat.sockets.<fd>`: one socket of the node.
    Socket(u64),
    /// `stat.sockets`: the node's socket total.
    SocketsTotal,
}

/// Classifies `stat.<name>[.<sub>]` from `node`; `stat.dummy.42` becomes
/// `stat.first-dummy.42`, so that circus-top shows `first.dummy`. `None` for anything else.
pub fn classify_stat(node: &str, topic: &[u8]) -> Option<Stat> {
    if !clean_topic(topic) {
        return None;
    }
    let rest = topic.strip_prefix(b"stat.")?;
    let (name, sub) = match rest.iter().position(|&b| b == b'.') {
        Some(dot) => (&rest[..dot], Some(&rest[dot + 1..])),
        None => (rest, None),
    };
    if name.is_empty() || sub.is_some_and(|s| s.is_empty() || s.contains(&b'.')) {
        return None;
    }
    if name == b"sockets" {
        return match sub {
            None => Some(Stat::SocketsTotal),
            Some(fd) => std::str::from_utf8(fd).ok()?.parse().ok().map(Stat::Socket),
        };
    }
    let mut out = Vec::with_capacity(topic.len() + node.len() + 1);
    out.extend_from_slice(b"stat.");
    out.extend_from_slice(node.as_bytes());
    out.push(b'-');
    out.extend_from_slice(rest);
    Some(Stat::Forward(out))
}

/// `watcher.<watcher>.<event>` from `node` becomes `watcher.<node>:<watcher>.<event>`; `None`
/// for other topics.
pub fn event_topic(node: &str, topic: &[u8]) -> Option<Vec<u8>> {
    if !clean_topic(topic) {
        return None;
    }
    let rest = topic.strip_prefix(b"watcher.")?;
    let dot = rest.iter().rposition(|&b| b == b'.')?;
    if dot == 0 || dot + 1 == rest.len() {
        return None;
    }
    let mut out = Vec::with_capacity(topic.len() + node.len() + 1);
    out.extend_from_slice(b"watcher.");
    out.extend_from_slice(node.as_bytes());
    out.push(b':');
    out.extend_from_slice(rest);
    Some(out)
}

/// True for a topic that subscribers can decode and print: UTF-8 without control characters.
fn clean_topic(topic: &[u8]) -> bool {
    std::str::from_utf8(topic).is_ok_and(|text| !text.chars().any(char::is_control))
}

/// Adds `"node": "<node>"` as the last key of a JSON object payload, on the bytes. `None` when
/// the payload is not a valid JSON object (bad syntax, bad UTF-8, trailing bytes).
pub fn splice_node(payload: &[u8], node: &str) -> Option<Vec<u8>> {
    let start = payload.iter().position(|b| !b.is_ascii_whitespace())?;
    let end = payload.iter().rposition(|b| !b.is_ascii_whitespace())?;
    if payload[start] != b'{' || payload[end] != b'}' || end == start {
        return None;
    }
    // UTF-8 first: serde_json skips the bytes of strings it ignores without checking them.
    let text = std::str::from_utf8(payload).ok()?;
    // Then the syntax, without building anything.
    serde_json::from_str::<serde::de::IgnoredAny>(text).ok()?;
    let body = &payload[start + 1..end];
    let empty = body.iter().all(u8::is_ascii_whitespace);
    let mut out = Vec::with_capacity(payload.len() + node.len() + 12);
    out.push(b'{');
    if !empty {
        out.extend_from_slice(body);
        out.extend_from_slice(b", ");
    }
    out.extend_from_slice(b"\"node\": \"");
    out.extend_from_slice(node.as_bytes());
    out.extend_from_slice(b"\"}");
    Some(out)
}

/// One node's `stat.sockets.<fd>` for the merged stream: topic `stat.sockets.<subtopic>` with a
/// subtopic unique to the node, the address qualified as `node/address`, and `node` added.
pub fn socket_stat(node: &str, node_index: u32, fd: u64, payload: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let Value::Object(mut stat) = serde_json::from_slice(payload).ok()? else {
        return None;
    };
    let subtopic = u64::from(node_index) * SOCKET_SPACE + fd % SOCKET_SPACE;
    stat.insert("subtopic".into(), subtopic.into());
    if let Some(Value::String(address)) = stat.get_mut("address") {
        *address = format!("{node}/{address}");
    }
    stat.insert("node".into(), node.into());
    Some((format!("stat.sockets.{subtopic}").into_bytes(), pyjson::dumps_map(&stat).into_bytes()))
}

/// A node's `stat.sockets` total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketsTotal {
    /// Its socket addresses, qualified `node/address`.
    pub addresses: Vec<String>,
    /// Reads since the last publication.
    pub reads: u64,
}

/// Reads a node's `stat.sockets` total.
pub fn sockets_total(node: &str, payload: &[u8]) -> Option<SocketsTotal> {
    let total: Value = serde_json::from_slice(payload).ok()?;
    let addresses = total.get("addresses")?.as_array()?;
    let addresses = addresses.iter().filter_map(Value::as_str).map(|a| format!("{node}/{a}")).collect();
    Some(SocketsTotal { addresses, reads: total.get("reads").and_then(Value::as_u64).unwrap_or(0) })
}

/// The merged `stat.sockets` total over every node's last total.
pub fn merged_sockets_total<'a>(totals: impl Iterator<Item = &'a SocketsTotal>) -> Vec<u8> {
    let (mut addresses, mut reads) = (Vec::new(), 0u64);
    for total in totals {
        addresses.extend(total.addresses.iter().cloned());
        reads += total.reads;
    }
    pyjson::dumps(&serde_json::json!({"addresses": addresses, "reads": reads})).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_topics_get_the_node_prefix() {
        assert_eq!(classify_stat("first", b"stat.dummy.8498"), Some(Stat::Forward(b"stat.first-dummy.8498".to_vec())));
        assert_eq!(classify_stat("first", b"stat.dummy"), Some(Stat::Forward(b"stat.first-dummy".to_vec())));
        assert_eq!(classify_stat("first", b"stat.circus.12"), Some(Stat::Forward(b"stat.first-circus.12".to_vec())));
        assert_eq!(classify_stat("first", b"stat.my-app"), Some(Stat::Forward(b"stat.first-my-app".to_vec())));
        assert_eq!(classify_stat("first", b"stat.sockets.7"), Some(Stat::Socket(7)));
        assert_eq!(classify_stat("first", b"stat.sockets"), Some(Stat::SocketsTotal));
        for bad in [&b"stat."[..], b"stats.x", b"stat.a.b.c", b"stat.a.", b"stat.sockets.x", b"watcher.a.b"] {
            assert_eq!(classify_stat("first", bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn event_topics_get_the_qualified_name() {
        assert_eq!(event_topic("first", b"watcher.dummy.spawn"), Some(b"watcher.first:dummy.spawn".to_vec()));
        assert_eq!(event_topic("first", b"watcher.my-app.reap"), Some(b"watcher.first:my-app.reap".to_vec()));
        for bad in [&b"watcher.spawn"[..], b"watcher..set", b"watcher.x.", b"stat.x.y"] {
            assert_eq!(event_topic("first", bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn node_is_spliced_into_objects_only() {
        let spliced = splice_node(br#"{"pid": 1, "cpu": 0.0}"#, "first").unwrap();
        assert_eq!(spliced, br#"{"pid": 1, "cpu": 0.0, "node": "first"}"#);
        let parsed: Value = serde_json::from_slice(&spliced).unwrap();
        assert_eq!(parsed["node"], "first");
        assert_eq!(splice_node(b" {} \n", "n").unwrap(), br#"{"node": "n"}"#);
        for bad in [&b""[..], b"[1]", b"{", b"}", b"null", b"  "] {
            assert_eq!(splice_node(bad, "n"), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn malformed_payloads_and_topics_are_refused() {
        for bad in [
            &b"{this is not json}"[..],
            b"{\"a\": 1} {\"b\": 2}",
            b"{\"a\": \"\xff\xfe\"}",
            b"{\"a\": 1,}",
            b"{\"a\": NaN, \"b\": }",
            b"{\"a\": \"unterminated}",
        ] {
            assert_eq!(splice_node(bad, "n"), None, "{}", String::from_utf8_lossy(bad));
        }
        assert!(splice_node("{\"name\": \"caf\u{e9}\", \"x\": [1, {\"y\": null}]}".as_bytes(), "n").is_some());
        for bad in [&b"stat.\xff"[..], b"stat.a\nb", b"stat.a\x1b[2J"] {
            assert_eq!(classify_stat("n", bad), None, "{}", String::from_utf8_lossy(bad));
        }
        for bad in [&b"watcher.\xff.spawn"[..], b"watcher.a\r.spawn"] {
            assert_eq!(event_topic("n", bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn sockets_are_renumbered_and_qualified() {
        let (topic, payload) =
            socket_stat("second", 2, 7, br#"{"fd": 7, "subtopic": 7, "reads": 3, "address": "127.0.0.1:7515"}"#)
                .unwrap();
        assert_eq!(topic, b"stat.sockets.200007");
        let stat: Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(stat["subtopic"], 200_007);
        assert_eq!(stat["address"], "second/127.0.0.1:7515");
        assert_eq!(stat["reads"], 3);
        assert_eq!(stat["node"], "second");

        let first = sockets_total("first", br#"{"addresses": ["127.0.0.1:1"], "reads": 2}"#).unwrap();
        let second = sockets_total("second", br#"{"addresses": ["/tmp/s"], "reads": 5}"#).unwrap();
        let merged: Value = serde_json::from_slice(&merged_sockets_total([first, second].iter())).unwrap();
        assert_eq!(merged["addresses"], serde_json::json!(["first/127.0.0.1:1", "second//tmp/s"]));
        assert_eq!(merged["reads"], 7);
    }
}
