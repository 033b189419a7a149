//! Commands flowing through the master while a test breaks something: a thread with one
//! long-lived [`Client`] (as a dashboard or a script holds one) that sends `status`, `incr`,
//! `decr` to random nodes and the odd whole-cluster `numprocesses`, and records how each call
//! ended. Tests then check that every failure was a clear one.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use clusterd_protocol::connection::ConnectionError;
use serde_json::{json, Value};

use crate::{Client, Request};

/// How one call ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A success reply.
    Ok,
    /// An error reply, with its `reason`.
    Refused(String),
    /// No reply within the client's timeout.
    Timeout,
    /// Anything else (a malformed reply, a libzmq failure): never expected.
    Broken(String),
}

/// One call: what was sent, when, and how it ended.
#[derive(Debug, Clone)]
pub struct Call {
    /// The command and its properties, for reports.
    pub what: String,
    /// When it was sent.
    pub sent: Instant,
    /// How long it took to end.
    pub took: Duration,
    /// How it ended.
    pub outcome: Outcome,
}

/// The command thread; [`Traffic::stop`] ends it.
pub struct Traffic {
    stop: Arc<AtomicBool>,
    calls: Arc<Mutex<Vec<Call>>>,
    thread: Option<JoinHandle<()>>,
    timeout: Duration,
}

/// Pause between two calls: a steady flow, not a flood (the machine running the tests is small).
const PACE: Duration = Duration::from_millis(20);

impl Traffic {
    /// Starts sending commands to `nodes` through the master at `endpoint`; each call waits at
    /// most `timeout` for its reply.
    ///
    /// # Panics
    /// When the thread cannot be started.
    pub fn start(endpoint: &str, nodes: &[String], timeout: Duration) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let calls = Arc::new(Mutex::new(Vec::new()));
        let client = Client::connect(endpoint, timeout).expect("connect to the master");
        let (nodes, stopped, record) = (nodes.to_vec(), stop.clone(), calls.clone());
        let thread = std::thread::Builder::new()
            .name("traffic".into())
            .spawn(move || {
                // xorshift64: random enough to spread calls over the nodes, and reproducible.
                let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
                let mut turn = 0u64;
                while !stopped.load(Ordering::Relaxed) {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    let node = &nodes[(state % nodes.len() as u64) as usize];
                    let (command, properties) = match turn % 8 {
                        7 => ("numprocesses", json!({})),
                        n if n % 3 == 0 => ("incr", json!({"name": format!("{node}:w0")})),
                        n if n % 3 == 1 => ("decr", json!({"name": format!("{node}:w0")})),
                        _ => ("status", json!({"name": format!("{node}:w1")})),
                    };
                    turn += 1;
                    let call = one_call(&client, command, properties);
                    record.lock().expect("calls lock").push(call);
                    std::thread::sleep(PACE);
                }
            })
            .expect("traffic thread");
        Traffic { stop, calls, thread: Some(thread), timeout }
    }

    /// The calls so far.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("calls lock").clone()
    }

    /// Calls sent since `since` that succeeded.
    pub fn successes_since(&self, since: Instant) -> usize {
        self.calls().iter().filter(|c| c.sent >= since && c.outcome == Outcome::Ok).count()
    }

    /// Stops the thread and returns every call. Bounded: the call in progress ends within the
    /// client's timeout.
    ///
    /// # Panics
    /// When the thread does not end within the timeout plus 10 s (a hung client), or panicked.
    pub fn stop(mut self) -> Vec<Call> {
        self.stop.store(true, Ordering::Relaxed);
        let thread = self.thread.take().expect("running");
        let deadline = Instant::now() + self.timeout + Duration::from_secs(10);
        while !thread.is_finished() {
            assert!(Instant::now() < deadline, "the command thread hung");
            std::thread::sleep(Duration::from_millis(20));
        }
        thread.join().expect("the command thread panicked");
        self.calls()
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn one_call(client: &Client, command: &str, properties: Value) -> Call {
    let what = format!("{command} {properties}");
    let Value::Object(properties) = properties else { unreachable!("an object literal") };
    let sent = Instant::now();
    let outcome = match client.call(&Request::new(command, properties)) {
        Ok(reply) if reply.is_error() => {
            Outcome::Refused(reply.0.get("reason").and_then(Value::as_str).unwrap_or_default().to_string())
        }
        Ok(_) => Outcome::Ok,
        Err(ConnectionError::Timeout) => Outcome::Timeout,
        Err(err) => Outcome::Broken(err.to_string()),
    };
    Call { what, sent, took: sent.elapsed(), outcome }
}
