//! A hostile node stream: a PUB that publishes given messages over and over, byte for byte,
//! from a thread of its own, until dropped. It stands for a node's circusd-stats (or event
//! stream) gone wrong (garbage, oversized messages); no real circusd sends those.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use clusterd_protocol::connection::Publisher;

use crate::ports;

/// A running hostile publisher.
pub struct HostilePublisher {
    /// Where it publishes (give it as a node's `stats_endpoint` or `pubsub_endpoint`).
    pub endpoint: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl HostilePublisher {
    /// Publishes every message of `messages` (each a list of frames), then waits `pause`, and
    /// again, until dropped. At most `queue` messages wait for a slow subscriber (keep it small
    /// for big messages: they are held in the test process).
    pub fn start(messages: Vec<Vec<Vec<u8>>>, pause: Duration, queue: i32) -> HostilePublisher {
        let endpoint = ports::free_endpoint();
        let publisher = Publisher::bind(&endpoint, queue).unwrap_or_else(|e| panic!("bind {endpoint}: {e}"));
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                for frames in &messages {
                    let frames: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
                    publisher.send(&frames).expect("publish");
                }
                std::thread::sleep(pause);
            }
        });
        HostilePublisher { endpoint, stop, thread: Some(thread) }
    }
}

impl Drop for HostilePublisher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
