//! One subscriber to the master's merged stats, reading as fast as messages come (like
//! circus-top), and what the master's `nodes` says about each node's stream feed.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cluster_e2e::{Client, Master, Value};
use clusterd_protocol::connection::Subscriber;
use serde_json::json;

use crate::fleet::request;

/// A SUB on `stat.` read by a thread of its own until dropped.
pub struct Reader {
    stop: Arc<AtomicBool>,
    received: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Reader {
    /// Subscribes to `prefix` on `endpoint`.
    pub fn start(endpoint: &str, prefix: &str) -> Reader {
        let subscriber = Subscriber::connect(endpoint, &[prefix.to_string()]).expect("subscriber to the master");
        let (stop, received) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
        let (stopping, counting) = (stop.clone(), received.clone());
        let thread = std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                if let Ok(Some(_)) = subscriber.recv_timeout(Duration::from_millis(100)) {
                    counting.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        Reader { stop, received, thread: Some(thread) }
    }

    /// Messages read so far.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The nodes' stats feeds as `nodes` shows them.
#[derive(Debug, Default)]
pub struct Feeds {
    /// Nodes listed.
    pub nodes: usize,
    /// Nodes whose stats stream the master holds.
    pub started: usize,
    /// Nodes whose feed was refused (`streams.error`), with the first reason.
    pub refused: usize,
    pub reason: Option<String>,
}

/// What `nodes` says now; `None` when it did not answer.
pub fn feeds(master: &Master) -> Option<Feeds> {
    let client = Client::connect(&master.endpoint, Duration::from_secs(20)).ok()?;
    let reply = client.call(&request("nodes", json!({}))).ok()?;
    let nodes = reply.0.get("nodes").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut seen = Feeds { nodes: nodes.len(), ..Feeds::default() };
    for node in &nodes {
        let streams = &node["streams"];
        let held = streams["subscribed"].as_array().is_some_and(|s| s.iter().any(|s| s == "stats"));
        if held {
            seen.started += 1;
        } else if let Some(reason) = streams["error"].as_str() {
            seen.refused += 1;
            seen.reason.get_or_insert_with(|| reason.to_string());
        }
    }
    Some(seen)
}

/// Waits until every node's stats feed is started or refused (`settled`), or none is held
/// (`!settled`); the last reading when `within` runs out (an empty one if `nodes` never
/// answered: a missing reading is never taken as settled).
pub fn wait_feeds(master: &Master, settled: bool, within: Duration) -> Feeds {
    let deadline = Instant::now() + within;
    let mut last = Feeds::default();
    loop {
        if let Some(now) = feeds(master) {
            let done = if settled { now.started + now.refused == now.nodes } else { now.started == 0 };
            if done {
                return now;
            }
            last = now;
        }
        if Instant::now() >= deadline {
            return last;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}
