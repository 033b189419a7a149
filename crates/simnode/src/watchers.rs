//! What one simulated circusd knows: its watchers, their processes, and its own pid.
//!
//! Pids are invented (a process-wide counter), never real processes: a simnode runs nothing.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

/// Invented pids, unique within the simnode process.
static NEXT_PID: AtomicU32 = AtomicU32::new(100_000);

/// A fresh invented pid.
pub fn next_pid() -> u32 {
    NEXT_PID.fetch_add(1, Ordering::Relaxed)
}

/// One watcher: a name and its (invented) processes.
#[derive(Debug, Clone, PartialEq)]
pub struct Watcher {
    /// Lower-case name, as circusd lists it.
    pub name: String,
    /// Pids of its processes, oldest first.
    pub pids: Vec<u32>,
}

/// The state of one simulated circusd.
#[derive(Debug, Clone)]
pub struct Watchers {
    /// Sorted by name, as `list` answers.
    pub watchers: Vec<Watcher>,
    /// The simulated circusd's pid; a new one after each simulated restart.
    pub circusd_pid: u32,
    /// When the simulated circusd started (for `age`).
    pub started: Instant,
    /// Epoch seconds of the start (for `create_time`).
    pub create_time: f64,
}

impl Watchers {
    /// `watchers` watchers (`w0`, `w1`, ...) of `processes` processes each.
    pub fn new(watchers: usize, processes: usize) -> Self {
        let watchers = (0..watchers)
            .map(|i| Watcher { name: format!("w{i}"), pids: (0..processes).map(|_| next_pid()).collect() })
            .collect();
        Watchers {
            watchers,
            circusd_pid: next_pid(),
            started: Instant::now(),
            create_time: clusterd_protocol::message::now(),
        }
    }

    /// The watcher called `name` (case-insensitively, like circusd).
    pub fn get(&self, name: &str) -> Option<&Watcher> {
        let name = name.to_lowercase();
        self.watchers.iter().find(|w| w.name == name)
    }

    /// Mutable access to the watcher called `name`.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Watcher> {
        let name = name.to_lowercase();
        self.watchers.iter_mut().find(|w| w.name == name)
    }

    /// A simulated circusd restart: a new circusd pid and new process pids.
    pub fn restart(&mut self) {
        self.circusd_pid = next_pid();
        self.started = Instant::now();
        self.create_time = clusterd_protocol::message::now();
        for watcher in &mut self.watchers {
            watcher.pids = watcher.pids.iter().map(|_| next_pid()).collect();
        }
    }

    /// Seconds since the simulated start.
    pub fn age(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}
