//! What circusd says about its watchers: their output files ([`outputs::from_options`]) and
//! pids, asked every [`LEARN_EVERY`] by a thread of its own, or at once for one watcher the agent
//! is asked about before that round comes (a `run` job's watcher lives only seconds).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clusterd_protocol::connection::{Client, ConnectionError};
use clusterd_protocol::Request;
use serde_json::{json, Map, Value};

use super::outputs::{self, Output};

/// How often circusd is asked about its watchers.
const LEARN_EVERY: Duration = Duration::from_secs(2);

/// What circusd said about its watchers.
pub struct Learnt {
    /// Every output file of every watcher.
    pub outputs: Vec<Output>,
    /// Every watcher's pids (so also every watcher's name).
    pub pids: HashMap<String, Vec<u64>>,
}

/// Asks circusd every [`LEARN_EVERY`] for its watchers' output files and pids.
pub fn spawn_learner(endpoint: String, stop: Arc<AtomicBool>) -> Receiver<Learnt> {
    let (send, receive): (Sender<Learnt>, _) = channel();
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            if let Ok(found) = learn(&endpoint) {
                if send.send(found).is_err() {
                    return;
                }
            }
            let until = Instant::now() + LEARN_EVERY;
            while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    });
    receive
}

/// One round of `list`, then `options` and `list NAME` per watcher.
fn learn(endpoint: &str) -> Result<Learnt, ConnectionError> {
    let client = Client::connect(endpoint, Duration::from_secs(2))?;
    let call = |command: &str, props: Value| {
        let props = if let Value::Object(map) = props { map } else { Map::new() };
        client.call(&Request::new(command, props))
    };
    let list = call("list", json!({}))?;
    let names: Vec<String> = list
        .0
        .get("watchers")
        .and_then(Value::as_array)
        .map_or_else(Vec::new, |names| names.iter().filter_map(Value::as_str).map(String::from).collect());
    let mut learnt = Learnt { outputs: Vec::new(), pids: HashMap::new() };
    for name in names {
        let options = call("options", json!({"name": name}))?;
        if let Some(options) = options.0.get("options") {
            learnt.outputs.extend(outputs::from_options(&name, options));
        }
        let pids = call("list", json!({"name": name}))?;
        let pids = pids
            .0
            .get("pids")
            .and_then(Value::as_array)
            .map_or_else(Vec::new, |pids| pids.iter().filter_map(Value::as_u64).collect());
        learnt.pids.insert(name, pids);
    }
    Ok(learnt)
}

/// The output files of one watcher, asked of circusd now (none when it has no such watcher).
///
/// # Errors
/// circusd did not answer.
pub fn outputs_of(endpoint: &str, watcher: &str) -> Result<Vec<Output>, ConnectionError> {
    let client = Client::connect(endpoint, Duration::from_secs(2))?;
    let mut props = Map::new();
    props.insert("name".into(), watcher.into());
    let reply = client.call(&Request::new("options", props))?;
    Ok(reply.0.get("options").map_or_else(Vec::new, |options| outputs::from_options(watcher, options)))
}
