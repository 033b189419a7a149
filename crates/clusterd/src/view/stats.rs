//! Reading merged stats and event messages into the view's terms.

use serde::Deserialize;

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
    let watcher = watcher.to_string();
    // Typed payloads, not a `Value`: this runs for every stats message of the cluster (the
    // placement's load view reads them all), and a map per message was a large share of the
    // forwarding's CPU (perf, `clusterd-bench forwarding`).
    Some(match pid {
        Some(pid) => {
            let payload: ProcessPayload = serde_json::from_slice(payload).ok()?;
            WatcherStat::Process {
                watcher,
                pid,
                cpu: payload.cpu.number().unwrap_or(0.0),
                mem_bytes: payload.mem_info1.text().and_then(human_bytes).unwrap_or(0),
                mem: payload.mem.number().unwrap_or(0.0),
                age: payload.age.number().unwrap_or(0.0),
            }
        }
        None => {
            let payload: AggregatePayload = serde_json::from_slice(payload).ok()?;
            let pids = payload.pid?.iter().filter_map(Lenient::whole).collect();
            WatcherStat::Aggregate { watcher, pids }
        }
    })
}

/// The fields of a per-process stats message the view reads; the others are skipped unread.
#[derive(Deserialize)]
struct ProcessPayload {
    #[serde(default)]
    cpu: Lenient,
    #[serde(default)]
    mem: Lenient,
    #[serde(default)]
    mem_info1: Lenient,
    #[serde(default)]
    age: Lenient,
}

/// A watcher's aggregate stats message: its pids.
#[derive(Deserialize)]
struct AggregatePayload {
    #[serde(default)]
    pid: Option<Vec<Lenient>>,
}

/// A field as circusd-stats may send it: a number, a text (`"N/A"` when psutil fails, sizes
/// like `"8.5M"`), or anything else, which reads as missing rather than failing the message.
#[derive(Deserialize, Default)]
#[serde(untagged)]
enum Lenient {
    Number(f64),
    Text(String),
    #[default]
    Missing,
    Other(serde::de::IgnoredAny),
}

impl Lenient {
    fn number(&self) -> Option<f64> {
        match self {
            Lenient::Number(n) => Some(*n),
            _ => None,
        }
    }

    fn text(&self) -> Option<&str> {
        match self {
            Lenient::Text(text) => Some(text),
            _ => None,
        }
    }

    fn whole(&self) -> Option<u64> {
        self.number().filter(|n| *n >= 0.0 && n.fract() == 0.0).map(|n| n as u64)
    }
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
    fn odd_fields_read_as_missing_and_never_drop_the_message() {
        let process = watcher_stat(
            "n",
            b"stat.n-w.7",
            br#"{"cpu": "N/A", "mem": null, "mem_info1": 12, "age": [1], "extra": {"deep": [1, {"x": 2}]}}"#,
        );
        let expected = WatcherStat::Process { watcher: "w".into(), pid: 7, cpu: 0.0, mem_bytes: 0, mem: 0.0, age: 0.0 };
        assert_eq!(process, Some(expected));
        let aggregate = watcher_stat("n", b"stat.n-w", br#"{"pid": [7, "x", 8.0, -1, 9.5]}"#);
        assert_eq!(aggregate, Some(WatcherStat::Aggregate { watcher: "w".into(), pids: vec![7, 8] }));
        assert_eq!(watcher_stat("n", b"stat.n-w", br#"{"cpu": 1}"#), None, "an aggregate names its pids");
        assert_eq!(watcher_stat("n", b"stat.n-w.7", b"not json"), None);
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
