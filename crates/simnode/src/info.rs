//! Process-info objects and the stats stream's messages, shaped as circusd and circusd-stats
//! make them (circus-protocol.md §3.2 and §5.1). The figures are invented but plausible.

use clusterd_protocol::pyjson;
use serde_json::{json, Map, Value};

use crate::watchers::Watchers;

/// One process's info: the keys of `util.get_info`, in circusd's order.
pub fn process_info(pid: u32, cmdline: &str, age: f64, create_time: f64) -> Map<String, Value> {
    let json = json!({
        "mem_info1": "8.57M",
        "mem_info2": "12.21M",
        "cpu": 0.0,
        "mem": 0.036,
        "ctime": "0:00.10",
        "pid": pid,
        "username": "sim",
        "nice": 0,
        "create_time": create_time,
        "age": age,
        "cmdline": cmdline,
        "children": [],
    });
    match json {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// One 2-frame publication: topic and payload bytes.
pub type Message = (Vec<u8>, Vec<u8>);

/// One cycle of circusd-stats messages for a node: per process then per watcher, then the
/// `circus` pseudo-watcher (circusd and circusd-stats).
pub fn stats_cycle(state: &Watchers) -> Vec<Message> {
    let age = state.age();
    let mut out = Vec::new();
    for watcher in &state.watchers {
        let processes = watcher.pids.iter().map(|&pid| (pid, Value::Null));
        push_watcher(&mut out, &watcher.name, processes, "sim-worker", age, state.create_time);
    }
    let own = [(state.circusd_pid, Value::from("circusd")), (state.circusd_pid + 1, Value::from("circusd-stats"))];
    push_watcher(&mut out, "circus", own.into_iter(), "python3", age, state.create_time);
    out
}

fn push_watcher(
    out: &mut Vec<Message>,
    watcher: &str,
    processes: impl Iterator<Item = (u32, Value)>,
    cmdline: &str,
    age: f64,
    create_time: f64,
) {
    let mut pids = Vec::new();
    for (pid, name) in processes {
        let mut info = process_info(pid, cmdline, age, create_time);
        info.insert("subtopic".into(), pid.into());
        info.insert("name".into(), name);
        out.push((format!("stat.{watcher}.{pid}").into_bytes(), pyjson::dumps_map(&info).into_bytes()));
        pids.push(pid);
    }
    if pids.is_empty() {
        // circusd-stats stops the collector of a watcher without processes: nothing at all.
        return;
    }
    let mem = 0.036 * pids.len() as f64;
    let total = json!({"pid": pids, "cpu": 0.0, "mem": mem, "age": age});
    out.push((format!("stat.{watcher}").into_bytes(), pyjson::dumps(&total).into_bytes()));
}

/// A `watcher.<name>.<event>` publication, as circusd's event stream carries it.
pub fn event(watcher: &str, event: &str, pid: Option<u32>) -> Message {
    let now = clusterd_protocol::message::now();
    let payload = match pid {
        Some(pid) => json!({"process_pid": pid, "time": now}),
        None => json!({"time": now}),
    };
    (format!("watcher.{watcher}.{event}").into_bytes(), pyjson::dumps(&payload).into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cycle_has_one_message_per_process_and_one_total_per_watcher() {
        let state = Watchers::new(2, 3);
        let cycle = stats_cycle(&state);
        // 2 watchers × (3 processes + total) + circus (2 + total).
        assert_eq!(cycle.len(), 2 * 4 + 3);
        let (topic, payload) = &cycle[0];
        let pid = state.watchers[0].pids[0];
        assert_eq!(String::from_utf8_lossy(topic), format!("stat.w0.{pid}"));
        let payload: Value = serde_json::from_slice(payload).expect("json");
        assert_eq!(payload["subtopic"], pid);
        assert_eq!(payload["name"], Value::Null);
        assert!(payload["cpu"].is_number() && payload["mem"].is_number() && payload["age"].is_number());
        let (topic, payload) = &cycle[3];
        assert_eq!(topic, b"stat.w0");
        let total: Value = serde_json::from_slice(payload).expect("json");
        assert_eq!(total["pid"].as_array().map(Vec::len), Some(3));
        let (topic, payload) = cycle.last().expect("circus total");
        assert_eq!(topic, b"stat.circus");
        assert!(String::from_utf8_lossy(payload).starts_with("{\"pid\": ["));
    }

    #[test]
    fn a_watcher_without_processes_publishes_nothing() {
        let mut state = Watchers::new(1, 0);
        state.watchers[0].pids.clear();
        let cycle = stats_cycle(&state);
        assert!(cycle.iter().all(|(topic, _)| !topic.starts_with(b"stat.w0")));
    }

    #[test]
    fn events_carry_the_pid_when_there_is_one() {
        let (topic, payload) = event("w0", "spawn", Some(42));
        assert_eq!(topic, b"watcher.w0.spawn");
        assert!(String::from_utf8_lossy(&payload).starts_with("{\"process_pid\": 42, \"time\": "));
    }
}
