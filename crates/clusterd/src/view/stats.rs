//! Reading merged stats and event messages into the view's terms.

use serde_json::Value;

/// A merged stats message of one watcher of `node`.
#[derive(Debug, Clone, PartialEq)]
pub enum WatcherStat {
    /// `stat.<node>-<watcher>.<pid>`: one process.
    Process { watcher: String, pid: u64, cpu: f64, mem_bytes: u64, mem: f64, age: f64 },
    /// `stat.<node>-<watcher>`: the watcher's pids, sent right after their per-pid messages.
    Aggregate { watcher: String, pids: Vec<u64> },
}

/// Reads `stat.<node>-<watcher>[.<pid>]`; `None` for circusd's own `circus` pseudo-watcher,
/// socket stats and anything unreadable.
pub fn watcher_stat(node: &str, topic: &[u8], payload: &[u8]) -> Option<WatcherStat> {
    let topic = std::str::from_utf8(topic).ok()?;
    let rest = topic.strip_prefix("stat.")?.strip_prefix(node)?.strip_prefix('-')?;
    let (watcher, pid) = match rest.split_once('.') {
        Some((watcher, pid)) => (watcher, Some(pid.parse::<u64>().ok()?)),
        None => (rest, None),
    };
    if watcher.is_empty() || watcher == "circus" {
        return None;
    }
    let payload: Value = serde_json::from_slice(payload).ok()?;
    let watcher = watcher.to_string();
    Some(match pid {
        Some(pid) => WatcherStat::Process {
            watcher,
            pid,
            cpu: payload.get("cpu").and_then(Value::as_f64).unwrap_or(0.0),
            mem_bytes: payload.get("mem_info1").and_then(Value::as_str).and_then(human_bytes).unwrap_or(0),
            mem: payload.get("mem").and_then(Value::as_f64).unwrap_or(0.0),
            age: payload.get("age").and_then(Value::as_f64).unwrap_or(0.0),
        },
        None => WatcherStat::Aggregate {
            watcher,
            pids: payload.get("pid")?.as_array()?.iter().filter_map(Value::as_u64).collect(),
        },
    })
}

/// circus's `bytes2human` text (`"8.57M"`, `"512B"`, `"1.2G"`) as bytes.
pub fn human_bytes(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.trim().parse().ok()?;
    let power = match unit.trim() {
        "" | "B" => 0,
        "K" => 1,
        "M" => 2,
        "G" => 3,
        "T" => 4,
        "P" => 5,
        _ => return None,
    };
    Some((number * 1024f64.powi(power)).round() as u64)
}

/// A merged event: `watcher.<node>:<watcher>.<event>` or `cluster.<node>.<event>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTopic {
    /// The watcher, for watcher events.
    pub watcher: Option<String>,
    /// The event (`start`, `stop`, `spawn`, `reap`, `down`, `joined`...).
    pub event: String,
}

/// Reads an event topic of `node`.
pub fn event_topic(node: &str, topic: &[u8]) -> Option<EventTopic> {
    let topic = std::str::from_utf8(topic).ok()?;
    if let Some(rest) = topic.strip_prefix("watcher.").and_then(|r| r.strip_prefix(node)?.strip_prefix(':')) {
        let (watcher, event) = rest.rsplit_once('.')?;
        return Some(EventTopic { watcher: Some(watcher.to_string()), event: event.to_string() });
    }
    let event = topic.strip_prefix("cluster.")?.strip_prefix(node)?.strip_prefix('.')?;
    Some(EventTopic { watcher: None, event: event.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watcher_stats_are_read_from_merged_messages() {
        let process = watcher_stat(
            "web-1",
            b"stat.web-1-dummy.42",
            br#"{"cpu": 2.5, "mem": 0.7, "mem_info1": "8.5M", "age": 3.0, "pid": 42, "node": "web-1"}"#,
        );
        let expected = WatcherStat::Process {
            watcher: "dummy".into(),
            pid: 42,
            cpu: 2.5,
            mem_bytes: 8_912_896,
            mem: 0.7,
            age: 3.0,
        };
        assert_eq!(process, Some(expected));
        let aggregate =
            watcher_stat("web-1", b"stat.web-1-dummy", br#"{"pid": [42, 43], "cpu": 1.0, "node": "web-1"}"#);
        assert_eq!(aggregate, Some(WatcherStat::Aggregate { watcher: "dummy".into(), pids: vec![42, 43] }));
        assert_eq!(watcher_stat("web-1", b"stat.web-1-circus", br#"{"pid": [1]}"#), None);
        assert_eq!(watcher_stat("web-1", b"stat.sockets.100007", br#"{}"#), None);
        assert_eq!(watcher_stat("web-1", b"stat.web-1-dummy.x", br#"{}"#), None);
    }

    #[test]
    fn human_sizes_become_bytes() {
        assert_eq!(human_bytes("512B"), Some(512));
        assert_eq!(human_bytes("1.5K"), Some(1536));
        assert_eq!(human_bytes("2G"), Some(2 << 30));
        assert_eq!(human_bytes("N/A"), None);
    }

    #[test]
    fn event_topics_name_watcher_and_event() {
        let read = |topic: &str| event_topic("first", topic.as_bytes());
        assert_eq!(
            read("watcher.first:dummy.stop"),
            Some(EventTopic { watcher: Some("dummy".into()), event: "stop".into() })
        );
        assert_eq!(read("cluster.first.down"), Some(EventTopic { watcher: None, event: "down".into() }));
        assert_eq!(read("cluster.second.down"), None);
    }
}
