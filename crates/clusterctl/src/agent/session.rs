//! The join loop, over an abstract master ([`Master`]) and clock ([`Waiter`]) so that its
//! decisions are unit-tested without sockets or real time.
//!
//! 1. `register_node` until the master answers ok, retrying with capped backoff;
//! 2. then `nodelist` every `check_every`: the master must list this node with this endpoint,
//!    else (restarted without state, `unregister_node`, another worker took the name) the node
//!    is registered again at once;
//! 3. on a stop signal, `unregister_node` (bounded) if a registration was ever sent; when the
//!    parent process is gone, nothing is sent (the master sees the node go down by itself).

use std::io::Write;
use std::time::Duration;

use clusterd_protocol::connection::ConnectionError;
use clusterd_protocol::Request;
use serde_json::{json, Value};

use super::worker::Worker;
use crate::master::Master;

/// Why the loop ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// SIGTERM or SIGINT: circusd stops its watcher, or Ctrl-C.
    Signal,
    /// The parent process (circusd) is gone: `was` is its pid, `now` our new parent's.
    Orphaned {
        /// The original parent's pid.
        was: u32,
        /// The current parent's pid.
        now: u32,
    },
}

/// The loop's clock and stop conditions.
pub trait Waiter {
    /// Why to stop now, if so.
    fn stop(&mut self) -> Option<Stop>;
    /// Waits `pause`, returning early when a stop condition comes.
    fn sleep(&mut self, pause: Duration);
}

/// The loop's intervals and deadlines.
#[derive(Debug, Clone)]
pub struct Timings {
    /// First delay before registering again after a failure; doubled after each failure.
    pub first_retry: Duration,
    /// Cap of that delay.
    pub max_retry: Duration,
    /// Interval of the `nodelist` check once registered.
    pub check_every: Duration,
    /// Deadline of one `register_node` or `nodelist` call.
    pub call_timeout: Duration,
    /// Deadline of the final `unregister_node`.
    pub unregister_timeout: Duration,
}

impl Default for Timings {
    /// 0.2 s doubling to 5 s, checks every 2 s, 2 s per call.
    fn default() -> Self {
        Timings {
            first_retry: Duration::from_millis(200),
            max_retry: Duration::from_secs(5),
            check_every: Duration::from_secs(2),
            call_timeout: Duration::from_secs(2),
            unregister_timeout: Duration::from_secs(2),
        }
    }
}

/// Where the loop is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Registering; `again` once the node was registered before (logged as re-registered).
    Joining { again: bool },
    /// Registered: checking that the master still knows the node.
    Joined,
}

/// The loop's state and its collaborators.
struct Session<'a> {
    worker: &'a Worker,
    master: &'a dyn Master,
    waiter: &'a mut dyn Waiter,
    timings: &'a Timings,
    log: &'a mut dyn Write,
    /// Delay before the next registration attempt after a failure.
    backoff: Duration,
    /// False while the master does not answer the checks (logged once per outage).
    contact: bool,
    /// A `register_node` was sent: the master may know the node.
    sent: bool,
}

/// Runs the loop until a stop condition, unregisters on a signal, and says why it stopped.
/// Every event is one line on `log`.
pub fn run(
    worker: &Worker,
    master: &dyn Master,
    waiter: &mut dyn Waiter,
    timings: &Timings,
    log: &mut dyn Write,
) -> Stop {
    let mut session =
        Session { worker, master, waiter, timings, log, backoff: timings.first_retry, contact: true, sent: false };
    session.say(&format!(
        "joining master {} as node {} ({}, pubsub {}, stats {})",
        worker.master, worker.name, worker.endpoint, worker.pubsub_endpoint, worker.stats_endpoint
    ));
    let mut phase = Phase::Joining { again: false };
    let stop = loop {
        if let Some(stop) = session.waiter.stop() {
            break stop;
        }
        let (next, pause) = match phase {
            Phase::Joining { again } => session.register(again),
            Phase::Joined => session.check(),
        };
        phase = next;
        if !pause.is_zero() {
            session.waiter.sleep(pause);
        }
    };
    session.finish(stop);
    stop
}

impl Session<'_> {
    /// Logs one line (a closed stderr is no reason to stop).
    fn say(&mut self, line: &str) {
        let _ = writeln!(self.log, "clusterctl join: {line}");
        let _ = self.log.flush();
    }

    /// One `register_node`; returns the next phase and how long to wait before it.
    fn register(&mut self, again: bool) -> (Phase, Duration) {
        let request = Request::new("register_node", self.worker.register_properties());
        self.sent = true;
        let result = self.master.call_within(&request, self.timings.call_timeout);
        let (name, master) = (&self.worker.name, &self.worker.master);
        let failure = match result {
            Ok(reply) if !reply.is_error() => {
                let verb = if again { "re-registered" } else { "registered" };
                let replaced = reply.0.get("replaced") == Some(&Value::Bool(true)) && !again;
                let note = if replaced { " (replacing the master's previous entry of that name)" } else { "" };
                self.say(&format!("{verb} node {name} ({}) with master {master}{note}", self.worker.endpoint));
                self.backoff = self.timings.first_retry;
                self.contact = true;
                return (Phase::Joined, self.timings.check_every);
            }
            Ok(reply) => format!("master {master} refused node {name}: {}", reply.reason().unwrap_or("no reason")),
            Err(_) if self.waiter.stop().is_some() => return (Phase::Joining { again }, Duration::ZERO),
            Err(err) => format!("master {master} unreachable ({})", why(&err, self.timings.call_timeout)),
        };
        let pause = self.backoff;
        self.say(&format!("{failure}, retrying in {}", secs(pause)));
        self.backoff = (self.backoff * 2).min(self.timings.max_retry);
        (Phase::Joining { again }, pause)
    }

    /// One `nodelist`: the master must list this node with this endpoint.
    fn check(&mut self) -> (Phase, Duration) {
        let request = Request::new("nodelist", serde_json::Map::new());
        let result = self.master.call_within(&request, self.timings.call_timeout);
        let (name, master) = (&self.worker.name, &self.worker.master);
        match result {
            Ok(reply) => {
                if !self.contact {
                    self.say(&format!("master {master} answers again"));
                    self.contact = true;
                }
                let listed = reply.0.get("nodelist").and_then(|list| list.get(name.as_str()));
                if listed == Some(&json!(self.worker.endpoint)) {
                    return (Phase::Joined, self.timings.check_every);
                }
                let seen = match listed {
                    None => "does not list it".to_string(),
                    Some(other) => format!("lists it at {other}"),
                };
                self.say(&format!("master {master} no longer knows node {name} ({seen}), registering again"));
                self.backoff = self.timings.first_retry;
                (Phase::Joining { again: true }, Duration::ZERO)
            }
            Err(_) if self.waiter.stop().is_some() => (Phase::Joined, Duration::ZERO),
            Err(err) => {
                if self.contact {
                    let why = why(&err, self.timings.call_timeout);
                    self.say(&format!("lost contact with master {master} ({why}), checking again"));
                    self.contact = false;
                }
                // The call itself waited call_timeout: retry soon, so that a master that comes back
                // without this node gets it again within a few seconds.
                (Phase::Joined, self.timings.first_retry)
            }
        }
    }

    /// Unregisters on a signal (if a registration was ever sent); logs why the loop ended.
    fn finish(&mut self, stop: Stop) {
        let (name, master) = (self.worker.name.clone(), self.worker.master.clone());
        match stop {
            Stop::Orphaned { was, now } => self
                .say(&format!("parent process {was} is gone (now {now}): exiting without unregistering node {name}")),
            Stop::Signal if !self.sent => self.say("stopping (nothing was registered)"),
            Stop::Signal => {
                let request = Request::new("unregister_node", self.worker.unregister_properties());
                let timeout = self.timings.unregister_timeout;
                let line = match self.master.call_within(&request, timeout) {
                    Ok(reply) if reply.is_error() => format!(
                        "master {master} did not unregister node {name}: {}",
                        reply.reason().unwrap_or("no reason")
                    ),
                    Ok(_) => format!("unregistered node {name} from master {master}"),
                    Err(err) => format!(
                        "could not unregister node {name}: master {master} unreachable ({})",
                        why(&err, timeout)
                    ),
                };
                self.say(&line);
            }
        }
    }
}

/// Why a call got no reply, for the log: `no reply within 2s` for a call given 2 s, and each
/// master's reason when several were asked (`tcp://a:5558: no reply within 2s; tcp://b:...`).
fn why(err: &ConnectionError, timeout: Duration) -> String {
    match err {
        ConnectionError::Timeout => format!("no reply within {}", secs(timeout)),
        ConnectionError::NoneAnswered(failures) => {
            let each: Vec<String> =
                failures.iter().map(|(endpoint, err)| format!("{endpoint}: {}", why(err, timeout))).collect();
            each.join("; ")
        }
        other => other.to_string(),
    }
}

/// `0.2s`, `5s`.
pub fn secs(duration: Duration) -> String {
    format!("{}s", duration.as_secs_f64())
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
