//! The agent's log service (docs/logs.md): tails every watcher output file it learns of
//! ([`outputs`]), keeps recent lines per watcher and stream, and serves them on the worker's
//! `logs_endpoint` ([`LogServer`]):
//!
//! * `history` (`watcher`, `stream`, `lines` (default 10, at most 10,000), `since` (epoch
//!   seconds), `forget`): `{"lines": [{watcher, stream, pid, time, line}, ...]}`, oldest first.
//!   The files are read first, so a line written just before is in; a watcher not known yet is
//!   asked of circusd at once and its files read from their start. With `forget` (a `run` job's
//!   output, gathered once) the watcher's lines are dropped after the answer and its files
//!   deleted;
//! * `follow`: from then on, every new line is pushed to the caller as `["log", JSON]` for
//!   [`LEASE`], renewed by each `follow` (the master sends one every few seconds while someone
//!   subscribes to the node's lines); `unfollow` ends it at once.
//!
//! `pid` is the watcher's process when it has exactly one (circusd's `list`), else null: Circus
//! file streams do not record which process wrote a line.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clusterd_protocol::connection::logs::{LogServer, LINE_FRAME};
use clusterd_protocol::connection::ConnectionError;
use clusterd_protocol::{Errno, Reply, Request};
use serde_json::{json, Map, Value};

use super::learn::{outputs_of, spawn_learner};
use super::outputs::{self, Output};
use super::tail::Tail;
use super::worker::Worker;

/// How long a `follow` lasts without being renewed.
pub const LEASE: Duration = Duration::from_secs(10);
/// Lines kept per watcher and stream.
const KEEP_LINES: usize = 10_000;
/// Bytes of line text kept per watcher and stream.
const KEEP_BYTES: usize = 4 * 1024 * 1024;
/// The most lines one `history` answers.
pub const MAX_HISTORY: usize = 10_000;
/// How often the files are read.
const TAIL_EVERY: Duration = Duration::from_millis(20);

/// One line read from an output file.
struct Line {
    seq: u64,
    time: f64,
    pid: Option<u64>,
    text: String,
}

/// The recent lines of one watcher and stream, and their total size.
#[derive(Default)]
struct Kept {
    lines: VecDeque<Line>,
    bytes: usize,
}

/// The service's state.
struct Service {
    server: LogServer,
    /// circusd's endpoint, for watchers asked about before the learner has seen them.
    circusd: String,
    tails: BTreeMap<(String, &'static str), Tail>,
    kept: BTreeMap<(String, &'static str), Kept>,
    pids: HashMap<String, Vec<u64>>,
    followers: HashMap<Vec<u8>, Instant>,
    seq: u64,
}

/// Serves the watchers' output until `stop`; logs its start and failures to `log`.
pub fn serve(worker: &Worker, ini: &str, stop: &Arc<AtomicBool>, log: &mut dyn Write) {
    let Some(endpoint) = &worker.logs_endpoint else { return };
    let server = match LogServer::bind(endpoint, 100_000) {
        Ok(server) => server,
        Err(err) => {
            let _ = writeln!(log, "clusterctl join: cannot serve logs on {endpoint}: {err}");
            return;
        }
    };
    let _ = writeln!(log, "clusterctl join: serving watcher output on {}", server.bound_endpoint());
    let mut service = Service {
        server,
        circusd: worker.endpoint.clone(),
        tails: BTreeMap::new(),
        kept: BTreeMap::new(),
        pids: HashMap::new(),
        followers: HashMap::new(),
        seq: 0,
    };
    service.follow_files(outputs::from_ini(ini), Tail::new);
    let learnt = spawn_learner(worker.endpoint.clone(), Arc::clone(stop));
    let mut last_tail = Instant::now() - TAIL_EVERY;
    while !stop.load(Ordering::Relaxed) {
        match service.server.recv_timeout(TAIL_EVERY) {
            Ok(Some((peer, body))) => service.answer(&peer, &body),
            Ok(None) => {}
            Err(err) => {
                let _ = writeln!(log, "clusterctl join: logs endpoint failed: {err}");
                return;
            }
        }
        while let Ok(found) = learnt.try_recv() {
            // Files of removed watchers are no longer followed (their lines stay kept).
            service.tails.retain(|(watcher, _), _| found.pids.contains_key(watcher));
            service.pids = found.pids;
            service.follow_files(found.outputs, Tail::new);
        }
        if last_tail.elapsed() >= TAIL_EVERY {
            last_tail = Instant::now();
            service.read_files();
        }
    }
}

impl Service {
    /// Starts following the files not followed yet (a changed filename replaces the old one).
    /// Paths are made absolute first: the ini's `printer.out` and circusd's answer for it must
    /// not look like two files (a new tail would read the file again).
    fn follow_files(&mut self, found: Vec<Output>, tail: fn(std::path::PathBuf) -> Tail) {
        let cwd = std::env::current_dir().unwrap_or_default();
        for output in found {
            let key = (output.watcher, output.stream);
            let path = cwd.join(&output.path);
            if self.tails.get(&key).is_none_or(|tail| tail.path() != path) {
                self.tails.insert(key, tail(path));
            }
        }
    }

    /// Reads every file, keeps the new lines and pushes them to the followers.
    fn read_files(&mut self) {
        let now = Instant::now();
        self.followers.retain(|_, until| *until > now);
        let time = clusterd_protocol::message::now();
        let mut fresh = Vec::new();
        for ((watcher, stream), tail) in &mut self.tails {
            let pid = match self.pids.get(watcher).map(Vec::as_slice) {
                Some([one]) => Some(*one),
                _ => None,
            };
            for text in tail.poll() {
                self.seq += 1;
                let line = Line { seq: self.seq, time, pid, text };
                if !self.followers.is_empty() {
                    fresh.push(line_json(watcher, stream, &line).to_string());
                }
                let kept = self.kept.entry((watcher.clone(), stream)).or_default();
                kept.bytes += line.text.len();
                kept.lines.push_back(line);
                while kept.lines.len() > KEEP_LINES || (kept.lines.len() > 1 && kept.bytes > KEEP_BYTES) {
                    let gone = kept.lines.pop_front().map_or(0, |line| line.text.len());
                    kept.bytes -= gone;
                }
            }
        }
        for payload in fresh {
            self.followers.retain(|peer, _| {
                !matches!(self.server.send(peer, &[LINE_FRAME, payload.as_bytes()]), Err(ConnectionError::PeerGone))
            });
        }
    }

    /// Answers one request from `peer`.
    fn answer(&mut self, peer: &[u8], body: &[u8]) {
        let reply = match Request::decode(body, 1 << 20) {
            Err(err) => Reply::error(err.errno, &err.reason, err.id),
            Ok(request) => {
                let mut reply = match request.command.as_str() {
                    "history" => self.history(&request),
                    "follow" => {
                        self.followers.insert(peer.to_vec(), Instant::now() + LEASE);
                        Reply::ok(Map::new(), Value::Null)
                    }
                    "unfollow" => {
                        self.followers.remove(peer);
                        Reply::ok(Map::new(), Value::Null)
                    }
                    other => Reply::error(Errno::MessageError, &format!("unknown log command '{other}'"), Value::Null),
                };
                reply.set_id(request.id.clone());
                reply
            }
        };
        let _ = self.server.send(peer, &[&reply.encode()]);
    }

    /// `history`: the last `lines` lines (since `since`) of the matching watchers and streams.
    fn history(&mut self, request: &Request) -> Reply {
        let props = &request.properties;
        let watcher = props.get("watcher").and_then(Value::as_str).filter(|w| !w.is_empty());
        let stream = props.get("stream").and_then(Value::as_str).filter(|s| !s.is_empty());
        let lines = props.get("lines").and_then(Value::as_u64).map_or(10, |n| n as usize).min(MAX_HISTORY);
        let since = props.get("since").and_then(Value::as_f64).unwrap_or(0.0);
        let forget = props.get("forget").and_then(Value::as_bool).unwrap_or(false);
        if let Some(name) = watcher {
            if !self.knows(name) {
                // A watcher added since the last round (a `run` job): its files are new, every
                // line of them is its output. No answer from circusd leaves it unknown.
                let found = outputs_of(&self.circusd, name).unwrap_or_default();
                self.follow_files(found, Tail::from_start);
            }
        }
        // What was written since the last read counts too (a job that has just exited).
        self.read_files();
        if let Some(name) = watcher {
            if !self.knows(name) {
                let reason = format!(
                    "watcher '{name}' has no output file this agent reads (stdout_stream/stderr_stream \
                     with class FileStream, TimedRotatingFileStream or WatchedFileStream and a filename)"
                );
                return Reply::error(Errno::MessageError, &reason, Value::Null);
            }
        }
        let mut found: Vec<(&str, &str, &Line)> = self
            .kept
            .iter()
            .filter(|((w, s), _)| watcher.is_none_or(|name| name == w) && stream.is_none_or(|name| name == *s))
            .flat_map(|((w, s), kept)| kept.lines.iter().filter(|l| l.time >= since).map(move |l| (w.as_str(), *s, l)))
            .collect();
        found.sort_by_key(|(_, _, line)| line.seq);
        let start = found.len().saturating_sub(lines);
        let list: Vec<Value> = found[start..].iter().map(|(w, s, line)| line_json(w, s, line)).collect();
        // Only a `run` job's files (`run-NAME-xxxx`), whoever asks: never a service's logs.
        if let (Some(name), true) = (watcher, forget) {
            if name.starts_with("run-") {
                self.forget(name);
            }
        }
        let mut fields = Map::new();
        fields.insert("lines".into(), list.into());
        Reply::ok(fields, Value::Null)
    }

    /// True when `watcher` has a followed file or kept lines.
    fn knows(&self, watcher: &str) -> bool {
        self.tails.keys().chain(self.kept.keys()).any(|(w, _)| w == watcher)
    }

    /// Drops everything about `watcher` and deletes its files: its output was wanted once.
    fn forget(&mut self, watcher: &str) {
        self.kept.retain(|(w, _), _| w != watcher);
        let files: Vec<std::path::PathBuf> =
            self.tails.iter().filter(|((w, _), _)| w == watcher).map(|(_, tail)| tail.path().to_path_buf()).collect();
        self.tails.retain(|(w, _), _| w != watcher);
        for file in files {
            let _ = std::fs::remove_file(file);
        }
    }
}

/// One line as the wire carries it (the master adds `node`).
fn line_json(watcher: &str, stream: &str, line: &Line) -> Value {
    json!({"watcher": watcher, "stream": stream, "pid": line.pid, "time": line.time, "line": line.text})
}
