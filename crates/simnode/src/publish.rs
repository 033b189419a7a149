//! The stats publisher: one thread that walks every node once per cycle, so that a thousand
//! nodes cost one timer, not a thousand.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::{Counters, Node, Options};

/// Publishes a stats cycle of every node each `stats_interval` until `stop` is set or the
/// cycle budget is spent. A cycle that overruns its interval is followed at once by the next.
pub fn stats_loop(nodes: &[Arc<Node>], options: &Options, counters: &Counters, stop: &AtomicBool) {
    sleep_unless_stopped(options.stats_delay, stop);
    let mut next = Instant::now();
    let mut done = 0u64;
    while !stop.load(Ordering::Relaxed) && options.stats_cycles.is_none_or(|budget| done < budget) {
        let sent: u64 = nodes.iter().map(|node| node.publish_stats()).sum();
        counters.stats.fetch_add(sent, Ordering::Relaxed);
        counters.cycles.fetch_add(1, Ordering::Relaxed);
        done += 1;
        next += options.stats_interval;
        let now = Instant::now();
        if next > now {
            sleep_unless_stopped(next - now, stop);
        } else {
            next = now;
        }
    }
}

fn sleep_unless_stopped(duration: std::time::Duration, stop: &AtomicBool) {
    let until = Instant::now() + duration;
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= until {
            return;
        }
        std::thread::sleep((until - now).min(std::time::Duration::from_millis(100)));
    }
}
