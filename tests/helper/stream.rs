//! Reading a PUB stream (the master's merged stats or events, or one node's own) with the
//! protocol crate's [`Subscriber`], as `clusterctl listen` does.
//!
//! A thread owns the socket and hands every message, stamped with its arrival time, to a channel
//! that the test reads with deadlines. It waits at most [`POLL`] at a time, so it ends soon after
//! the [`Stream`] is dropped, whether or not anything is still published.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clusterd_protocol::connection::Subscriber;
use serde_json::Value;

use crate::TIMEOUT;

/// One publication.
#[derive(Debug, Clone)]
pub struct Message {
    /// The first frame, as text.
    pub topic: String,
    /// The payload parsed as JSON (a JSON string holding the raw text when it is not JSON).
    pub payload: Value,
    /// When the test received it.
    pub at: Instant,
}

/// How long the reading thread waits for a message before checking whether to stop.
const POLL: Duration = Duration::from_millis(200);

/// A subscription whose messages are read with deadlines.
pub struct Stream {
    endpoint: String,
    rx: Receiver<Message>,
    stop: Arc<AtomicBool>,
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Stream {
    /// Connects a SUB socket to `endpoint` with the given topic prefixes (`""`: everything).
    /// Like any ZeroMQ SUB socket it connects in the background: what is published before the
    /// connection is up is not received.
    ///
    /// # Panics
    /// When the endpoint is malformed.
    pub fn subscribe(endpoint: &str, prefixes: &[&str]) -> Stream {
        let topics: Vec<String> = prefixes.iter().map(|p| p.to_string()).collect();
        let subscriber =
            Subscriber::connect(endpoint, &topics).unwrap_or_else(|e| panic!("subscribe to {endpoint}: {e}"));
        let (tx, rx) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::Builder::new()
            .name(format!("sub {endpoint}"))
            .spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    let Ok(frames) = subscriber.recv_timeout(POLL) else { return };
                    let Some(mut frames) = frames else { continue };
                    let topic = if frames.is_empty() { Vec::new() } else { frames.remove(0) };
                    let payload = frames.concat();
                    let payload = serde_json::from_slice(&payload)
                        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&payload).into_owned()));
                    let topic = String::from_utf8_lossy(&topic).into_owned();
                    if tx.send(Message { topic, payload, at: Instant::now() }).is_err() {
                        return;
                    }
                }
            })
            .expect("subscriber thread");
        Stream { endpoint: endpoint.to_string(), rx, stop }
    }

    /// The next message received before `deadline`.
    pub fn next_before(&self, deadline: Instant) -> Option<Message> {
        self.rx.recv_timeout(deadline.saturating_duration_since(Instant::now())).ok()
    }

    /// Every message received during the next `period`.
    pub fn collect_for(&self, period: Duration) -> Vec<Message> {
        let deadline = Instant::now() + period;
        std::iter::from_fn(|| self.next_before(deadline)).collect()
    }

    /// Discards what was received so far.
    pub fn drain(&self) {
        while self.rx.try_recv().is_ok() {}
    }

    /// Reads until a message satisfies `wanted` and returns it.
    ///
    /// # Panics
    /// After [`TIMEOUT`], listing the topics seen meanwhile.
    #[track_caller]
    pub fn wait_for(&self, what: &str, wanted: impl FnMut(&Message) -> bool) -> Message {
        self.wait_for_within(what, TIMEOUT, wanted)
    }

    /// [`Stream::wait_for`] with another deadline than [`TIMEOUT`].
    ///
    /// # Panics
    /// After `limit`, listing the topics seen meanwhile.
    #[track_caller]
    pub fn wait_for_within(&self, what: &str, limit: Duration, mut wanted: impl FnMut(&Message) -> bool) -> Message {
        let deadline = Instant::now() + limit;
        let mut seen = Seen::default();
        while let Some(message) = self.next_before(deadline) {
            if wanted(&message) {
                return message;
            }
            seen.add(&message);
        }
        panic!("timed out after {limit:?} waiting on {} for {what}; seen meanwhile: {}", self.endpoint, seen.summary())
    }

    /// Reads until every topic of `topics` was seen at least once; returns the first message of
    /// each topic received meanwhile (wanted or not).
    ///
    /// # Panics
    /// After [`TIMEOUT`], naming the missing topics and listing those seen.
    #[track_caller]
    pub fn wait_topics(&self, topics: &[String]) -> BTreeMap<String, Message> {
        let deadline = Instant::now() + TIMEOUT;
        let mut seen = Seen::default();
        while !topics.iter().all(|t| seen.first.contains_key(t)) {
            match self.next_before(deadline) {
                Some(message) => seen.add(&message),
                None => {
                    let missing: Vec<&String> = topics.iter().filter(|t| !seen.first.contains_key(*t)).collect();
                    panic!(
                        "timed out after {TIMEOUT:?} on {}: never saw {missing:?}; seen: {}",
                        self.endpoint,
                        seen.summary()
                    )
                }
            }
        }
        seen.first
    }
}

/// First message per topic, for reports.
#[derive(Default)]
struct Seen {
    first: BTreeMap<String, Message>,
    count: usize,
}

impl Seen {
    fn add(&mut self, message: &Message) {
        self.count += 1;
        self.first.entry(message.topic.clone()).or_insert_with(|| message.clone());
    }

    fn summary(&self) -> String {
        let topics: Vec<&String> = self.first.keys().take(60).collect();
        format!("{} messages, topics {topics:?}", self.count)
    }
}
