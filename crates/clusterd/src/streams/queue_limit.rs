//! How many messages each subscriber of a merged PUB may have queued (its `SNDHWM`).
//!
//! libzmq bounds a subscriber's queue in messages, but what a stuck subscriber costs the master
//! is bytes. One fixed limit cannot serve both ends: 1,024 messages of the largest size allowed
//! (64 KiB) bound a stuck subscriber to 64 MiB, but lose messages of a subscriber that reads at
//! full speed, since nodes publish whole cycles at once (1,000 nodes: 9,000 messages in a few
//! milliseconds); 20,000 keep up with that, and real stats and events are a few hundred bytes.
//!
//! So the limit follows the messages actually published: [`HIGH`] while every message is at
//! most [`SMALL`] bytes, the low limit from `max_stream_message_size` as soon as a larger one
//! goes out (set before it is sent), back to high after [`CALM`] without a large one. A queue
//! then holds at most [`HIGH`] small messages plus, since large ones are only taken while it
//! holds fewer than the low limit, the low limit of large ones: at most twice
//! [`SUBSCRIBER_QUEUE_BYTES`] (libzmq applies a new limit to the connections already made).

use std::time::{Duration, Instant};

use clusterd_protocol::connection::stream::StreamSender;
use clusterd_protocol::connection::ConnectionError;

use super::SUBSCRIBER_QUEUE_BYTES;

/// The limit while every message is small: about 20 s of a 1,000-message/s cluster.
pub const HIGH: i32 = clusterd_protocol::connection::stream::SUBSCRIBER_QUEUE;
/// Fewest messages queued for one subscriber (libzmq's and so Circus's own default is 1,000).
pub const MIN_LOW: i32 = 1_000;
/// The largest message that keeps the high limit: [`HIGH`] of them fill
/// [`SUBSCRIBER_QUEUE_BYTES`] (3,355 bytes; a stats message is 200 to 400).
pub const SMALL: usize = SUBSCRIBER_QUEUE_BYTES / HIGH as usize;
/// How long after the last large message the limit goes back up.
pub const CALM: Duration = Duration::from_secs(10);

/// The low limit for messages of at most `max_message` bytes: [`SUBSCRIBER_QUEUE_BYTES`] worth
/// of them, between [`MIN_LOW`] and [`HIGH`] (1,024 with the default 64 KiB).
pub fn low_limit(max_message: usize) -> i32 {
    let fit = SUBSCRIBER_QUEUE_BYTES / max_message.max(1);
    i32::try_from(fit).unwrap_or(HIGH).clamp(MIN_LOW, HIGH)
}

/// The limit of one merged PUB, following the sizes it publishes.
#[derive(Debug)]
pub struct QueueLimit {
    low: i32,
    current: i32,
    last_large: Option<Instant>,
}

impl QueueLimit {
    /// The limit of a PUB whose messages are at most `max_message` bytes; starts high.
    pub fn new(max_message: usize) -> QueueLimit {
        QueueLimit { low: low_limit(max_message), current: HIGH, last_large: None }
    }

    /// The limit to start with.
    pub fn current(&self) -> i32 {
        self.current
    }

    /// Called before publishing `size` bytes at `now`: the new limit to set first, if it changes.
    pub fn before_send(&mut self, size: usize, now: Instant) -> Option<i32> {
        let wanted = if size > SMALL {
            self.last_large = Some(now);
            self.low
        } else if self.current != HIGH && self.last_large.is_some_and(|at| now.duration_since(at) >= CALM) {
            HIGH
        } else {
            self.current
        };
        (wanted != self.current).then(|| {
            self.current = wanted;
            wanted
        })
    }

    /// Moves `sender`'s limit before it publishes `size` bytes, if that size asks for it (the
    /// clock is read only then: nearly every message is small while the limit is high).
    ///
    /// # Errors
    /// libzmq refused the new limit.
    pub fn before_publish(&mut self, sender: &StreamSender, size: usize) -> Result<(), ConnectionError> {
        if size > SMALL || self.current != HIGH {
            if let Some(limit) = self.before_send(size, Instant::now()) {
                sender.set_queue_limit(limit)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_low_limit_holds_a_bounded_number_of_bytes() {
        assert_eq!(low_limit(64 * 1024), 1_024);
        assert_eq!(low_limit(8 * 1024 * 1024), MIN_LOW);
        assert_eq!(low_limit(100), HIGH);
    }

    #[test]
    fn large_messages_lower_the_limit_until_calm_returns() {
        let start = Instant::now();
        let mut limit = QueueLimit::new(64 * 1024);
        assert_eq!(limit.current(), HIGH);
        assert_eq!(limit.before_send(300, start), None);
        assert_eq!(limit.before_send(SMALL, start), None);
        assert_eq!(limit.before_send(SMALL + 1, start), Some(1_024));
        assert_eq!(limit.before_send(60_000, start + Duration::from_secs(5)), None);
        // Small ones while large ones are recent keep the limit low.
        assert_eq!(limit.before_send(300, start + Duration::from_secs(14)), None);
        assert_eq!(limit.before_send(300, start + Duration::from_secs(15)), Some(HIGH));
        assert_eq!(limit.current(), HIGH);
    }

    #[test]
    fn with_a_small_maximum_the_limit_never_moves() {
        let mut limit = QueueLimit::new(SMALL);
        assert_eq!(limit.before_send(SMALL, Instant::now()), None);
        assert_eq!(limit.current(), HIGH);
    }
}
