//! Where a one-shot job stands on each node, updated from the `add` replies, the master's events
//! and `list` polls; no I/O here.
//!
//! The exit code only comes from the `reap` event (`watcher.<node>:<watcher>.reap`, payload
//! `exit_code`, negative for a signal). The watcher stops by itself after its process is gone
//! (`respawn: false`), so a `stop` event without a `reap` before it means the exit was missed,
//! or, when no `spawn` was seen either, that the process never started. Polls cover lost events:
//! two polls in a row finding no pid end the job with an unknown exit code; three failed polls
//! in a row mean the node is lost.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::commands::listen::{parse_topic, Topic};
use crate::gather::Gathered;

/// Polls without a pid before the job counts as exited.
const QUIET_POLLS: u32 = 2;
/// How long after its process is gone a job waits for the `reap` event that carries the exit
/// code: circusd reaps exited processes every `check_delay` (5 s by default), not at once.
/// Only when the stream delivered the job's `spawn`, so a stream that delivers nothing costs
/// [`QUIET_POLLS`] polls, not this.
pub const REAP_GRACE: Duration = Duration::from_secs(15);
/// Failed polls in a row before a node counts as lost.
const FAILED_POLLS: u32 = 3;

/// How the job ended on one node.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The process exited; `code` is `None` when its `reap` event was not seen.
    Exited {
        /// The exit code (`-N` for signal N).
        code: Option<i64>,
        /// From spawn to exit.
        duration: Duration,
    },
    /// Still running at `--job-timeout`: stopped.
    TimedOut {
        /// How long it had run.
        duration: Duration,
    },
    /// The watcher could not be added or its process did not start.
    FailedToStart {
        /// The node's reason.
        reason: String,
    },
    /// Still running at Ctrl-C: stopped.
    Interrupted {
        /// How long it had run.
        duration: Duration,
    },
    /// The node stopped answering, or the watcher vanished.
    Lost {
        /// The last failure.
        reason: String,
    },
}

/// One node's progress.
#[derive(Debug, Clone)]
struct NodeJob {
    node: String,
    /// `None` while running.
    outcome: Option<Outcome>,
    /// When the add reply came.
    since: Option<Instant>,
    /// The pid from the add reply (`started`), when it had one.
    pid: Option<u64>,
    /// The node's clock at spawn, from the `spawn` event.
    spawn_time: Option<f64>,
    /// When a poll first found no pid.
    quiet_since: Option<Instant>,
    /// Polls in a row that found no pid.
    quiet_polls: u32,
    /// Polls in a row that failed.
    failed_polls: u32,
}

/// A job on a set of nodes.
#[derive(Debug, Clone)]
pub struct Job {
    watcher: String,
    nodes: Vec<NodeJob>,
}

impl Job {
    /// A job run as `watcher` on `nodes`, none of them started yet.
    pub fn new(watcher: &str, nodes: &[String]) -> Self {
        let nodes = nodes
            .iter()
            .map(|node| NodeJob {
                node: node.clone(),
                outcome: None,
                since: None,
                pid: None,
                spawn_time: None,
                quiet_since: None,
                quiet_polls: 0,
                failed_polls: 0,
            })
            .collect();
        Job { watcher: watcher.to_string(), nodes }
    }

    /// The temporary watcher's name.
    pub fn watcher(&self) -> &str {
        &self.watcher
    }

    /// Takes the `add` replies: a failure ends the node's job, a success starts its clock. An
    /// empty `started` is not conclusive: a process that exits at once is reaped before circusd
    /// answers, so the events decide.
    pub fn on_added(&mut self, added: &Gathered, now: Instant) {
        for job in &mut self.nodes {
            match added.get(&job.node) {
                Some(reply) if reply.failed() => job.outcome = Some(Outcome::FailedToStart { reason: reply.reason() }),
                Some(reply) => {
                    job.since = Some(now);
                    job.pid = reply.reply.0.get("started").and_then(|pids| pids.get(0)).and_then(Value::as_u64);
                }
                None => job.outcome = Some(Outcome::FailedToStart { reason: "no reply for this node".into() }),
            }
        }
    }

    /// Takes one event of the master's stream (`watcher.<node>:<watcher>.<event>`).
    pub fn on_event(&mut self, topic: &str, payload: &str, now: Instant) {
        let Topic::Watcher { node: Some(node), watcher, event } = parse_topic(topic) else {
            return;
        };
        if watcher != self.watcher {
            return;
        }
        let Some(job) = self.nodes.iter_mut().find(|job| job.node == node) else {
            return;
        };
        let payload: Value = serde_json::from_str(payload).unwrap_or_default();
        let time = payload.get("time").and_then(Value::as_f64);
        match event {
            "spawn" => job.spawn_time = job.spawn_time.or(time),
            _ if job.outcome.is_some() || job.since.is_none() => {}
            "reap" => {
                let pid = payload.get("process_pid").and_then(Value::as_u64);
                if job.pid.is_none() || pid.is_none() || pid == job.pid {
                    let code = payload.get("exit_code").and_then(Value::as_i64);
                    let duration = job.node_duration(time).unwrap_or_else(|| job.elapsed(now));
                    job.outcome = Some(Outcome::Exited { code, duration });
                }
            }
            "stop" => job.outcome = Some(job.gone(now)),
            _ => {}
        }
    }

    /// Takes the replies to `list <watcher>` on the running nodes.
    pub fn on_poll(&mut self, listed: &Gathered, now: Instant) {
        for job in self.nodes.iter_mut().filter(|job| job.running()) {
            let Some(reply) = listed.get(&job.node) else {
                continue;
            };
            if reply.failed() {
                job.failed_polls += 1;
                if job.failed_polls >= FAILED_POLLS {
                    job.outcome = Some(Outcome::Lost { reason: reply.reason() });
                }
                continue;
            }
            job.failed_polls = 0;
            let empty = matches!(reply.reply.0.get("pids"), Some(Value::Array(pids)) if pids.is_empty());
            if !empty {
                (job.quiet_polls, job.quiet_since) = (0, None);
                continue;
            }
            job.quiet_polls += 1;
            let quiet_since = *job.quiet_since.get_or_insert(now);
            let awaiting_reap = job.spawn_time.is_some() && now.saturating_duration_since(quiet_since) < REAP_GRACE;
            if job.quiet_polls >= QUIET_POLLS && !awaiting_reap {
                job.outcome = Some(job.gone(quiet_since));
            }
        }
    }

    /// Nodes whose job is still running.
    pub fn running(&self) -> Vec<String> {
        self.nodes.iter().filter(|job| job.running()).map(|job| job.node.clone()).collect()
    }

    /// Ends every running job: timed out, or interrupted.
    pub fn stop_running(&mut self, now: Instant, timed_out: bool) {
        for job in self.nodes.iter_mut().filter(|job| job.running()) {
            let duration = job.elapsed(now);
            job.outcome =
                Some(if timed_out { Outcome::TimedOut { duration } } else { Outcome::Interrupted { duration } });
        }
    }

    /// Every node's outcome, in node order (a node still running counts as lost).
    pub fn outcomes(&self) -> Vec<(String, Outcome)> {
        let unsettled = || Outcome::Lost { reason: "the job had not ended".into() };
        self.nodes.iter().map(|job| (job.node.clone(), job.outcome.clone().unwrap_or_else(unsettled))).collect()
    }
}

impl NodeJob {
    fn running(&self) -> bool {
        self.outcome.is_none() && self.since.is_some()
    }

    /// Time since the add reply.
    fn elapsed(&self, now: Instant) -> Duration {
        self.since.map_or(Duration::ZERO, |since| now.saturating_duration_since(since))
    }

    /// Spawn to `end` on the node's clock, when both are known.
    fn node_duration(&self, end: Option<f64>) -> Option<Duration> {
        Duration::try_from_secs_f64(end? - self.spawn_time?).ok()
    }

    /// The process is gone without a `reap` seen: exited with an unknown code if it was ever
    /// spawned (or circusd said it started), else it never started.
    fn gone(&self, now: Instant) -> Outcome {
        if self.spawn_time.is_some() || self.pid.is_some() {
            Outcome::Exited { code: None, duration: self.elapsed(now) }
        } else {
            Outcome::FailedToStart { reason: "the process did not start (see the node's circusd log)".into() }
        }
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
