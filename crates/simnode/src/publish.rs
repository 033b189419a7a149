//! The stats publisher: one thread that walks every node once per cycle, so that a thousand
//! nodes cost one timer, not a thousand.
//!
//! What it does is a [`Schedule`]: `cycles` cycles (or forever) `interval` apart. The `simnode`
//! command replaces the schedule at run time (`interval_ms`, `cycles`), which lets a benchmark
//! offer one rate after another to the same nodes and the same master.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::{Counters, Node};

/// How the stats cycles are paced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    /// Time between the starts of two cycles.
    pub interval: Duration,
    /// How many cycles, then nothing (`None`: forever).
    pub cycles: Option<u64>,
}

/// The current schedule and a generation number that changes with it.
#[derive(Debug)]
pub struct Control(Mutex<(u64, Schedule)>);

impl Control {
    /// Starts with `schedule`.
    pub fn new(schedule: Schedule) -> Self {
        Control(Mutex::new((0, schedule)))
    }

    /// Replaces the schedule; the publisher starts it over at its next step.
    pub fn set(&self, schedule: Schedule) {
        let mut current = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *current = (current.0 + 1, schedule);
    }

    fn get(&self) -> (u64, Schedule) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The schedule as the `simnode` command reports it.
    pub fn describe(&self) -> Value {
        let (_, schedule) = self.get();
        json!({"interval_ms": schedule.interval.as_secs_f64() * 1000.0, "cycles": schedule.cycles})
    }
}

/// Publishes stats cycles of every node as the schedule says, until `stop` is set. A cycle
/// that overruns its interval is followed at once by the next.
pub fn stats_loop(nodes: &[Arc<Node>], control: &Control, delay: Duration, counters: &Counters, stop: &AtomicBool) {
    sleep_unless_stopped(delay, stop);
    let (mut generation, mut done, mut next) = (u64::MAX, 0u64, Instant::now());
    while !stop.load(Ordering::Relaxed) {
        let (current, schedule) = control.get();
        if current != generation {
            (generation, done, next) = (current, 0, Instant::now());
        }
        if schedule.cycles.is_some_and(|budget| done >= budget) {
            sleep_unless_stopped(Duration::from_millis(10), stop);
            continue;
        }
        let sent: u64 = nodes.iter().map(|node| node.publish_stats()).sum();
        counters.stats.fetch_add(sent, Ordering::Relaxed);
        counters.cycles.fetch_add(1, Ordering::Relaxed);
        done += 1;
        next += schedule.interval;
        let now = Instant::now();
        if next > now {
            sleep_unless_stopped(next - now, stop);
        } else {
            next = now;
        }
    }
}

fn sleep_unless_stopped(duration: Duration, stop: &AtomicBool) {
    let until = Instant::now() + duration;
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= until {
            return;
        }
        std::thread::sleep((until - now).min(Duration::from_millis(100)));
    }
}
