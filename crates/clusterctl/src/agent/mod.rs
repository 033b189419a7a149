//! `clusterctl join WORKER.INI`: a circusd worker that registers itself with the master.
//!
//! Meant to run as a watcher of the very circusd whose ini it reads:
//!
//! ```ini
//! [circus]
//! node = second
//! master = tcp://127.0.0.1:5558
//!
//! [watcher:cluster-join]
//! cmd = clusterctl join /etc/circus/worker.ini
//! ```
//!
//! It registers the node (`register_node` with the ini's endpoints), retrying with capped
//! backoff until the master answers; checks with `nodelist` every 2 s that the master still
//! knows it, and registers again at once if not; unregisters on SIGTERM (circusd stops its
//! watchers that way) or SIGINT and exits 0. If its parent process goes away (circusd killed
//! with -9), it exits 0 without unregistering: the master sees the node go down, and the next
//! circusd starts a fresh joiner. Every event is one line on stderr.
//!
//! * [`worker`]: reading the ini (the `[circus]` keys, circusd's defaults and value rules);
//! * [`session`]: the loop itself, over the crate's [`Master`] trait (here [`Masters`], every
//!   master the ini names) and a [`Waiter`] for time and stop conditions;
//! * [`logs`] (with [`outputs`] and [`tail`]): with `logs_endpoint` in the ini, the watchers'
//!   output files, followed and served to the master (docs/logs.md).
//!
//! The global `--endpoint`, `--node` and `--timeout` options do not apply: everything comes from
//! the ini.

pub mod learn;
pub mod logs;
pub mod outputs;
pub mod session;
pub mod tail;
pub mod worker;

use std::cell::Cell;
use std::io::Write;
use std::os::unix::process::parent_id;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clusterd_protocol::connection::{Client, ConnectionError};
use clusterd_protocol::{Reply, Request};

use self::session::{Stop, Timings, Waiter};
use self::worker::{Worker, WorkerIniError};
use crate::master::Master;

/// `join <WORKER.INI>`.
#[derive(clap::Args, Debug, Clone)]
pub struct JoinArgs {
    /// The worker's circusd ini: `[circus]` needs `node` and `master`; `endpoint`,
    /// `pubsub_endpoint` and `stats_endpoint` default to circusd's (tcp://127.0.0.1:5555-5557)
    #[arg(value_name = "WORKER.INI")]
    pub ini: PathBuf,
}

/// How often stop conditions are looked at while waiting.
const SLICE: Duration = Duration::from_millis(50);

/// Reads the ini, then registers and keeps the registration until a signal or the loss of the
/// parent process; logs to `log`.
///
/// # Errors
/// The ini cannot be read or lacks a required key (exit status 2); nothing is sent then.
pub fn run(args: &JoinArgs, log: &mut dyn Write) -> Result<(), WorkerIniError> {
    let env = |name: &str| std::env::vars().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, v)| v);
    let worker = Worker::read(&args.ini, &env)?;
    let quit = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        // Unregistered, the signal's default action still ends us; only the unregister is lost.
        let _ = signal_hook::flag::register(signal, Arc::clone(&quit));
    }
    if worker.logs_endpoint.is_some() {
        let (worker, quit) = (worker.clone(), Arc::clone(&quit));
        let ini = std::fs::read_to_string(&args.ini).unwrap_or_default();
        // The main thread holds stderr's lock for the whole run: this thread writes to the same
        // file through a descriptor of its own.
        let mut log: Box<dyn Write + Send> = match std::fs::OpenOptions::new().append(true).open("/dev/stderr") {
            Ok(file) => Box::new(file),
            Err(_) => Box::new(std::io::sink()),
        };
        std::thread::spawn(move || logs::serve(&worker, &ini, &quit, &mut log));
    }
    let timings = Timings::default();
    let masters = Masters { endpoints: worker.masters(), current: Cell::new(0), timeout: timings.call_timeout };
    let mut waiter = ProcessWaiter { quit, parent: parent_id() };
    session::run(&worker, &masters, &mut waiter, &timings, log);
    Ok(())
}

/// The real masters of a worker: a fresh [`Client`] per call, so that nothing queued for a
/// master that was down outlives its call. With several masters (sharing etcd), the one that
/// answered last is asked first; one that does not answer passes the request to the next.
pub struct Masters {
    /// The ini's `master` endpoints, at least one.
    endpoints: Vec<String>,
    /// Index of the master that answered last.
    current: Cell<usize>,
    /// The deadline of [`Master::call`].
    timeout: Duration,
}

impl Master for Masters {
    /// One bounded request on a DEALER of its own, to each master in turn until one answers;
    /// with a single master its own failure, else [`ConnectionError::NoneAnswered`].
    fn call_within(&self, request: &Request, timeout: Duration) -> Result<Reply, ConnectionError> {
        let mut failures = Vec::new();
        for offset in 0..self.endpoints.len() {
            let index = (self.current.get() + offset) % self.endpoints.len();
            let endpoint = &self.endpoints[index];
            match Client::connect(endpoint, timeout).and_then(|client| client.call(request)) {
                Ok(reply) => {
                    self.current.set(index);
                    return Ok(reply);
                }
                Err(err) if self.endpoints.len() == 1 => return Err(err),
                Err(err) => failures.push((endpoint.clone(), err)),
            }
        }
        Err(ConnectionError::NoneAnswered(failures))
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }
}

/// Stop conditions of a real process: a SIGTERM/SIGINT flag, and the parent pid changing.
struct ProcessWaiter {
    quit: Arc<AtomicBool>,
    parent: u32,
}

impl Waiter for ProcessWaiter {
    /// A signal first; then whether our parent is still the one we started with.
    fn stop(&mut self) -> Option<Stop> {
        if self.quit.load(Ordering::Relaxed) {
            return Some(Stop::Signal);
        }
        let now = parent_id();
        (now != self.parent).then_some(Stop::Orphaned { was: self.parent, now })
    }

    /// Sleeps in slices, looking at the stop conditions between them.
    fn sleep(&mut self, pause: Duration) {
        let deadline = Instant::now() + pause;
        while self.stop().is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            std::thread::sleep(left.min(SLICE));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nothing listens there: every call ends at its deadline.
    const SILENT: [&str; 2] = ["tcp://127.0.0.1:9", "ipc:///nonexistent/clusterctl-agent-test"];

    #[test]
    fn one_silent_master_times_out_and_several_are_each_named() {
        let status = Request::new("status", serde_json::Map::new());
        let within = Duration::from_millis(50);
        let masters = |endpoints: &[&str]| Masters {
            endpoints: endpoints.iter().map(|endpoint| endpoint.to_string()).collect(),
            current: Cell::new(0),
            timeout: Duration::from_secs(60),
        };
        let one = masters(&SILENT[..1]).call_within(&status, within);
        assert!(matches!(one, Err(ConnectionError::Timeout)), "{one:?}");
        match masters(&SILENT).call_within(&status, within) {
            Err(ConnectionError::NoneAnswered(failures)) => {
                let asked: Vec<&str> = failures.iter().map(|(endpoint, _)| endpoint.as_str()).collect();
                assert_eq!(asked, SILENT);
                assert!(failures.iter().all(|(_, err)| matches!(err, ConnectionError::Timeout)), "{failures:?}");
            }
            other => panic!("expected NoneAnswered, got {other:?}"),
        }
    }
}
