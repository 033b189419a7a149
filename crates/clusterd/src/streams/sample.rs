//! Which of a node's stats messages also go to the in-process tap.
//!
//! The tap's readers (placement's load view, the dashboard) need each node's load, not every
//! message: a node under a fast stats cycle would otherwise make them parse thousands of
//! messages a second for the same numbers. So every [`EVERY`] the sampler lets one cycle of the
//! node's stats through: from the first message on, each topic once, until a topic comes again
//! (the cycle is complete: circusd-stats sends every watcher and process once per cycle) or
//! [`LONGEST`] passed. Events are never sampled: each is news.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::{Duration, Instant};

/// How often one cycle of a node's stats is handed to the tap (the view shows a watcher's
/// processes while its stats are less than 5 s old).
pub const EVERY: Duration = Duration::from_secs(2);
/// The longest a sample stays open (circusd-stats publishes every second by default).
pub const LONGEST: Duration = Duration::from_millis(1500);

/// One node's sampler.
#[derive(Debug, Default)]
pub struct Sampler {
    /// While a sample is open: when it opened, and the topics it took (hashed).
    open: Option<(Instant, Vec<u64>)>,
    /// When the next sample may open.
    next: Option<Instant>,
}

impl Sampler {
    /// Whether the stats message with `topic`, arriving at `now`, goes to the tap.
    pub fn take(&mut self, topic: &[u8], now: Instant) -> bool {
        let key = {
            let mut hasher = DefaultHasher::new();
            topic.hash(&mut hasher);
            hasher.finish()
        };
        match &mut self.open {
            Some((opened, seen)) => {
                if now.duration_since(*opened) < LONGEST && !seen.contains(&key) {
                    seen.push(key);
                    return true;
                }
                self.next = Some(*opened + EVERY);
                self.open = None;
                false
            }
            None if self.next.is_none_or(|next| now >= next) => {
                self.open = Some((now, vec![key]));
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_cycle_per_period_goes_through() {
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let mut sampler = Sampler::default();
        let cycle = [&b"stat.web.1"[..], b"stat.web.2", b"stat.web", b"stat.circus"];
        let mut taken = Vec::new();
        // A cycle every 100 ms for 4.5 s, its messages 1 ms apart.
        for n in 0..45u64 {
            for (i, topic) in cycle.iter().enumerate() {
                if sampler.take(topic, at(n * 100 + i as u64)) {
                    taken.push((n, i));
                }
            }
        }
        // Cycles 0, 20 and 40 (every 2 s), each topic once.
        let cycles: Vec<u64> = taken.iter().map(|(n, _)| *n).collect();
        assert_eq!(cycles, [0, 0, 0, 0, 20, 20, 20, 20, 40, 40, 40, 40]);
    }

    #[test]
    fn a_sample_opened_mid_cycle_takes_each_topic_once() {
        let start = Instant::now();
        let mut sampler = Sampler::default();
        let at = |ms: u64| start + Duration::from_millis(ms);
        assert!(sampler.take(b"stat.b", at(0)));
        assert!(sampler.take(b"stat.a", at(1000)));
        assert!(!sampler.take(b"stat.b", at(1001)), "b came again: the cycle is complete");
        assert!(!sampler.take(b"stat.a", at(1500)));
        assert!(sampler.take(b"stat.a", at(2000)));
    }

    #[test]
    fn a_sample_closes_after_the_longest_time() {
        let start = Instant::now();
        let mut sampler = Sampler::default();
        assert!(sampler.take(b"stat.a", start));
        assert!(!sampler.take(b"stat.b", start + LONGEST));
    }
}
