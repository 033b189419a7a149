use serde_json::{json, Map, Value};

use super::*;

fn endpoints() -> Endpoints {
    Endpoints {
        endpoint: "tcp://127.0.0.1:1".into(),
        pubsub_endpoint: "tcp://127.0.0.1:2".into(),
        stats_endpoint: "tcp://127.0.0.1:3".into(),
    }
}

fn ask(state: &mut Watchers, command: &str, properties: Value) -> Answer {
    let properties = match properties {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let mut request = Request::new(command, properties);
    request.id = Value::from("x");
    answer(state, &endpoints(), json!({}), request)
}

#[test]
fn status_with_and_without_a_name_is_shaped_like_circusd() {
    let mut state = Watchers::new(2, 1);
    let all = ask(&mut state, "status", json!({})).reply;
    assert_eq!(all.0["statuses"], json!({"w0": "active", "w1": "active"}));
    let one = ask(&mut state, "status", json!({"name": "W1"})).reply;
    assert_eq!(one.status(), Some("active"));
    assert_eq!(one.0.keys().collect::<Vec<_>>(), ["status", "time", "id"]);
    let missing = ask(&mut state, "status", json!({"name": "nope"})).reply;
    assert_eq!((missing.errno(), missing.reason()), (Some(3), Some("program nope not found")));
}

#[test]
fn incr_and_decr_change_the_processes_and_publish_events() {
    let mut state = Watchers::new(1, 1);
    let incr = ask(&mut state, "incr", json!({"name": "w0", "nb": "2", "waiting": true}));
    assert_eq!(incr.reply.0["numprocesses"], 3);
    assert_eq!(incr.events.len(), 2);
    assert!(incr.events[0].0.starts_with(b"watcher.w0.spawn"));
    let decr = ask(&mut state, "decr", json!({"name": "w0"}));
    assert_eq!(decr.reply.status(), Some("ok"));
    assert!(!decr.reply.0.contains_key("numprocesses"));
    assert_eq!(ask(&mut state, "numprocesses", json!({"name": "w0"})).reply.0["numprocesses"], 2);
    let bad = ask(&mut state, "incr", json!({"name": "w0", "nb": [1]})).reply;
    assert_eq!(bad.errno(), Some(3));
}

#[test]
fn list_globaloptions_dstats_and_stats_answer() {
    let mut state = Watchers::new(2, 2);
    assert_eq!(ask(&mut state, "list", json!({})).reply.0["watchers"], json!(["w0", "w1"]));
    assert_eq!(ask(&mut state, "list", json!({"name": "w1"})).reply.0["pids"], json!(state.watchers[1].pids));
    let options = ask(&mut state, "globaloptions", json!({"option": "endpoint"})).reply;
    assert_eq!(options.0["options"], json!({"endpoint": "tcp://127.0.0.1:1"}));
    let dstats = ask(&mut state, "dstats", json!({})).reply;
    assert_eq!(dstats.0["info"]["pid"], state.circusd_pid);
    let stats = ask(&mut state, "stats", json!({})).reply;
    let pid = state.watchers[0].pids[0].to_string();
    assert_eq!(stats.0["infos"]["w0"][&pid]["wid"], 1);
}

#[test]
fn other_commands_are_refused_with_errno_2_naming_what_is_simulated() {
    let mut state = Watchers::new(1, 1);
    let reply = ask(&mut state, "add", json!({"name": "x", "cmd": "true"})).reply;
    assert_eq!(reply.errno(), Some(2));
    assert!(reply.reason().unwrap_or_default().contains("a simnode answers status"));
}
