//! The descriptor budget of the lazy streams: a node's feed may open its stats and events SUBs
//! only once the budget has room for them ([`budget::check_room_for_stream_feed`]), checked when
//! a subscriber first wants the node's streams, not at registration (an idle fleet holds no
//! stream connection, so its nodes count at their command cost only).
//!
//! Each feed reads what is wanted through a gate: while its node's streams are wanted and the
//! budget has no room, the gate shows the feed nobody wanting anything, records the refusal in
//! the node's counters (`streams.error` in `nodes`) and logs it, then tries again every
//! [`RETRY`]. The reservation is held while the streams are wanted, and a little longer than the
//! feed's own linger after they no longer are.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clusterd_protocol::connection::budget::{self, FDS_PER_STREAM_FEED};
use tokio::sync::watch;
use tracing::{debug, warn};

use super::feed::LINGER;
use super::interest::Interest;
use super::Counters;

/// How often a refused feed asks again while its streams are still wanted.
pub const RETRY: Duration = Duration::from_secs(5);
/// At most one warning per this long: thousands of feeds refused at once make one line.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// The feeds counted against the budget: shared by every feed's gate and the registry.
#[derive(Debug)]
pub struct Room {
    /// Descriptors open before the first node.
    base_open: usize,
    /// Nodes with a feed (gates alive).
    nodes: AtomicUsize,
    /// Feeds holding a reservation.
    feeds: AtomicUsize,
    /// When the last refusal was logged, and how many were not logged since.
    warned: Mutex<(Option<Instant>, usize)>,
}

impl Room {
    /// Counts from the descriptors open now.
    pub fn new() -> Arc<Room> {
        let base_open = budget::Usage::now().map_or(0, |usage| usage.open);
        Arc::new(Room { base_open, nodes: AtomicUsize::new(0), feeds: AtomicUsize::new(0), warned: Mutex::default() })
    }

    /// Descriptors held for started feeds (the registry counts them beside its nodes).
    pub fn feed_fds(&self) -> usize {
        self.feeds.load(Ordering::Relaxed) * FDS_PER_STREAM_FEED
    }

    fn reserve(self: &Arc<Room>) -> Result<Reservation, String> {
        let feeds = self.feeds.fetch_add(1, Ordering::Relaxed);
        let nodes = self.nodes.load(Ordering::Relaxed);
        match budget::check_room_for_stream_feed(nodes, feeds, self.base_open) {
            Ok(()) => Ok(Reservation(self.clone())),
            Err(reason) => {
                self.feeds.fetch_sub(1, Ordering::Relaxed);
                Err(reason)
            }
        }
    }

    fn log_refusal(&self, node: &str, reason: &str) {
        let mut warned = self.warned.lock().expect("warned lock");
        let due = warned.0.is_none_or(|at| at.elapsed() >= WARN_EVERY);
        if !due {
            warned.1 += 1;
            debug!(node, reason, "stream feed not started");
            return;
        }
        let others = std::mem::take(&mut warned.1);
        warned.0 = Some(Instant::now());
        warn!(node, others_since_last_warning = others, reason, "stream feed not started");
    }
}

/// A started feed's share of the budget, given back when dropped.
struct Reservation(Arc<Room>);

impl Drop for Reservation {
    fn drop(&mut self) {
        self.0.feeds.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A node counted in [`Room::nodes`] while its gate runs.
struct Counted(Arc<Room>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.nodes.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What `node`'s feed reads instead of `interest`: the same while the budget has room for its
/// streams, nothing wanted while it has not. The gate stops with the feed (its receiver dropped).
pub fn gate(
    node: Arc<str>,
    mut interest: watch::Receiver<Interest>,
    room: &Arc<Room>,
    counters: Arc<Counters>,
) -> watch::Receiver<Interest> {
    let (gated, rx) = watch::channel(Interest::default());
    room.nodes.fetch_add(1, Ordering::Relaxed);
    let counted = Counted(room.clone());
    tokio::spawn(async move {
        let room = &counted.0;
        let mut held: Option<Reservation> = None;
        let mut release: Option<tokio::time::Instant> = None;
        let mut refused_logged = false;
        loop {
            let now = interest.borrow_and_update().clone();
            let wanted = now.of(&node);
            let mut refused = false;
            if wanted.stats || wanted.events {
                release = None;
                if held.is_none() {
                    match room.reserve() {
                        Ok(reservation) => held = Some(reservation),
                        Err(reason) => {
                            refused = true;
                            if !refused_logged {
                                room.log_refusal(&node, &reason);
                                refused_logged = true;
                            }
                            *counters.error.lock().expect("error lock") = Some(reason);
                        }
                    }
                }
            } else if held.is_some() && release.is_none() {
                // The feed closes its SUBs LINGER after it sees this: the budget a little later.
                release = Some(tokio::time::Instant::now() + LINGER + Duration::from_secs(1));
            }
            if !refused {
                refused_logged = false;
                counters.error.lock().expect("error lock").take();
            }
            let next = if held.is_some() { now } else { Interest::default() };
            gated.send_if_modified(|shown| {
                let changed = *shown != next;
                *shown = next;
                changed
            });
            tokio::select! {
                changed = interest.changed() => if changed.is_err() { return },
                () = gated.closed() => return,
                () = tokio::time::sleep_until(release.unwrap_or_else(tokio::time::Instant::now)), if release.is_some() => {
                    release = None;
                    held = None;
                }
                () = tokio::time::sleep(RETRY), if refused => {}
            }
        }
    });
    rx
}
