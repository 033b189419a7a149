//! The commands a simulated node answers, as circusd 0.19 answers them (circus-protocol.md §3):
//! `status`, `list`, `numprocesses`, `numwatchers`, `incr`, `decr`, `globaloptions`, `dstats`,
//! `stats`; and `simnode`, which is not Circus's: the process's publication counters.

use clusterd_protocol::{Errno, Reply, Request};
use serde_json::{json, Map, Value};

use crate::info::{event, process_info, Message};
use crate::watchers::{next_pid, Watchers};

/// The commands answered; the others get errno 2 naming these.
pub const SIMULATED: &[&str] =
    &["status", "list", "numprocesses", "numwatchers", "incr", "decr", "globaloptions", "dstats", "stats", "simnode"];

/// The node's own endpoints, for `globaloptions`.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoints {
    /// Command endpoint (ROUTER).
    pub endpoint: String,
    /// Event stream (PUB).
    pub pubsub_endpoint: String,
    /// Stats stream (PUB).
    pub stats_endpoint: String,
}

/// A reply, and the events the command published (circusd publishes `spawn` on `incr`...).
pub struct Answer {
    /// The reply to send.
    pub reply: Reply,
    /// Publications for the event stream.
    pub events: Vec<Message>,
}

/// Answers one request against one node's state; `counters` is the reply of the `simnode` command.
pub fn answer(state: &mut Watchers, endpoints: &Endpoints, counters: Value, request: Request) -> Answer {
    let id = request.id.clone();
    let mut events = Vec::new();
    let result = match request.command.as_str() {
        "status" => status(state, &request),
        "list" => list(state, &request),
        "numprocesses" => numprocesses(state, &request),
        "numwatchers" => Ok(fields(json!({"numwatchers": state.watchers.len()}))),
        "incr" | "decr" => scale(state, &request, &mut events),
        "globaloptions" => globaloptions(endpoints, &request),
        "dstats" => {
            let info = process_info(state.circusd_pid, "python3", state.age(), state.create_time);
            Ok(fields(json!({"info": info})))
        }
        "stats" => stats(state, &request),
        "simnode" => Ok(fields(counters)),
        other => Err((
            Errno::UnknownCommand,
            format!("unknown command: '{other}' (a simnode answers {})", SIMULATED.join(", ")),
        )),
    };
    let reply = match result {
        Ok(fields) => Reply::ok(fields, id),
        Err((errno, reason)) => Reply::error(errno, &reason, id),
    };
    Answer { reply, events }
}

type Outcome = Result<Map<String, Value>, (Errno, String)>;

fn fields(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn name(request: &Request) -> Result<Option<&str>, (Errno, String)> {
    request.str_property("name").map_err(|reason| (Errno::MessageError, reason))
}

fn not_found(name: &str) -> (Errno, String) {
    (Errno::MessageError, format!("program {name} not found"))
}

fn status(state: &Watchers, request: &Request) -> Outcome {
    match name(request)? {
        Some(name) => state.get(name).map(|_| fields(json!({"status": "active"}))).ok_or_else(|| not_found(name)),
        None => {
            let statuses: Map<String, Value> =
                state.watchers.iter().map(|w| (w.name.clone(), Value::from("active"))).collect();
            Ok(fields(json!({"statuses": statuses})))
        }
    }
}

fn list(state: &Watchers, request: &Request) -> Outcome {
    match name(request)? {
        Some(name) => state.get(name).map(|w| fields(json!({"pids": w.pids}))).ok_or_else(|| not_found(name)),
        None => Ok(fields(json!({"watchers": state.watchers.iter().map(|w| &w.name).collect::<Vec<_>>()}))),
    }
}

fn numprocesses(state: &Watchers, request: &Request) -> Outcome {
    match name(request)? {
        Some(name) => state
            .get(name)
            .map(|w| fields(json!({"numprocesses": w.pids.len(), "watcher_name": name})))
            .ok_or_else(|| not_found(name)),
        None => Ok(fields(json!({"numprocesses": state.watchers.iter().map(|w| w.pids.len()).sum::<usize>()}))),
    }
}

/// `incr`/`decr`: `nb` as an integer or a numeric string (circusctl sends both).
fn scale(state: &mut Watchers, request: &Request, events: &mut Vec<Message>) -> Outcome {
    let name = request.required_str("name").map_err(|reason| (Errno::MessageError, reason))?;
    let nb = match request.properties.get("nb") {
        None => 1,
        Some(Value::Number(n)) => n.as_u64().ok_or((Errno::MessageError, "'nb' isn't an integer".to_string()))?,
        Some(Value::String(s)) => s.parse().map_err(|_| (Errno::MessageError, "'nb' isn't an integer".to_string()))?,
        Some(_) => return Err((Errno::MessageError, "'nb' isn't an integer".into())),
    } as usize;
    let watcher = state.get_mut(name).ok_or_else(|| not_found(name))?;
    if request.command == "incr" {
        for _ in 0..nb {
            let pid = next_pid();
            watcher.pids.push(pid);
            events.push(event(&watcher.name, "spawn", Some(pid)));
        }
    } else {
        for _ in 0..nb.min(watcher.pids.len()) {
            if let Some(pid) = watcher.pids.pop() {
                events.push(event(&watcher.name, "kill", Some(pid)));
            }
        }
    }
    let numprocesses = watcher.pids.len();
    Ok(if request.waiting() { fields(json!({"numprocesses": numprocesses})) } else { Map::new() })
}

fn globaloptions(endpoints: &Endpoints, request: &Request) -> Outcome {
    let all = json!({
        "endpoint": endpoints.endpoint,
        "stats_endpoint": endpoints.stats_endpoint,
        "pubsub_endpoint": endpoints.pubsub_endpoint,
        "check_delay": 5.0,
        "multicast_endpoint": "",
    });
    let options = match request.str_property("option").map_err(|reason| (Errno::MessageError, reason))? {
        None => all,
        Some(option) => match all.get(option) {
            Some(value) => json!({ option: value }),
            None => return Err((Errno::MessageError, format!("'{option}' not an existing option"))),
        },
    };
    Ok(fields(json!({"options": options})))
}

fn stats(state: &Watchers, request: &Request) -> Outcome {
    let age = state.age();
    let infos_of = |pids: &[u32]| -> Map<String, Value> {
        pids.iter()
            .enumerate()
            .map(|(wid, &pid)| {
                let mut info = process_info(pid, "sim-worker", age, state.create_time);
                info.insert("started".into(), state.create_time.into());
                info.insert("wid".into(), (wid + 1).into());
                (pid.to_string(), Value::Object(info))
            })
            .collect()
    };
    match name(request)? {
        Some(name) => {
            let watcher = state.get(name).ok_or_else(|| not_found(name))?;
            Ok(fields(json!({"name": name, "info": infos_of(&watcher.pids)})))
        }
        None => {
            let infos: Map<String, Value> =
                state.watchers.iter().map(|w| (w.name.clone(), Value::Object(infos_of(&w.pids)))).collect();
            Ok(fields(json!({"infos": infos})))
        }
    }
}

#[cfg(test)]
#[path = "commands_tests.rs"]
mod tests;
