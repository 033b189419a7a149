//! The descriptor budget of the lazy streams: a node's feed may open its stats SUB or its events
//! SUB only once the budget has room for it ([`budget::check_room_for_stream`]), checked when a
//! subscriber first wants that stream of the node, not at registration (an idle fleet holds no
//! stream connection, so its nodes count at their command cost only).
//!
//! Each feed reads what is wanted through a gate: while one of its node's streams is wanted and
//! the budget has no room for it, the gate shows the feed nobody wanting that stream, records
//! the refusal in the node's counters (`streams.error` in `nodes`) and logs it, then tries again
//! every [`RETRY`]. A reservation is held while its stream is wanted, and a little longer than
//! the feed's own linger after it no longer is.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clusterd_protocol::connection::budget::{self, FDS_PER_STREAM};
use tokio::sync::watch;
use tokio::time::Instant as Deadline;
use tracing::{debug, warn};

use super::feed::LINGER;
use super::interest::Interest;
use super::Counters;

/// How often a refused stream is asked for again while it is still wanted.
pub const RETRY: Duration = Duration::from_secs(5);
/// At most one warning per this long: thousands of feeds refused at once make one line.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// The node streams counted against the budget: shared by every feed's gate and the registry.
#[derive(Debug)]
pub struct Room {
    /// Descriptors open before the first node.
    base_open: usize,
    /// Nodes with a feed (gates alive).
    nodes: AtomicUsize,
    /// Node streams (SUBs) holding a reservation.
    streams: AtomicUsize,
    /// When the last refusal was logged, and how many were not logged since.
    warned: Mutex<(Option<Instant>, usize)>,
}

impl Room {
    /// Counts from the descriptors open now.
    pub fn new() -> Arc<Room> {
        let base_open = budget::Usage::now().map_or(0, |usage| usage.open);
        Arc::new(Room { base_open, nodes: AtomicUsize::new(0), streams: AtomicUsize::new(0), warned: Mutex::default() })
    }

    /// Descriptors held for node streams (the registry counts them beside its nodes).
    pub fn stream_fds(&self) -> usize {
        self.streams.load(Ordering::Relaxed) * FDS_PER_STREAM
    }

    fn reserve(self: &Arc<Room>) -> Result<Reservation, String> {
        let streams = self.streams.fetch_add(1, Ordering::Relaxed);
        let nodes = self.nodes.load(Ordering::Relaxed);
        match budget::check_room_for_stream(nodes, streams, self.base_open) {
            Ok(()) => Ok(Reservation(self.clone())),
            Err(reason) => {
                self.streams.fetch_sub(1, Ordering::Relaxed);
                Err(reason)
            }
        }
    }

    fn log_refusal(&self, node: &str, reason: &str) {
        let mut warned = self.warned.lock().expect("warned lock");
        if warned.0.is_some_and(|at| at.elapsed() < WARN_EVERY) {
            warned.1 += 1;
            debug!(node, reason, "stream feed not started");
            return;
        }
        let others = std::mem::take(&mut warned.1);
        warned.0 = Some(Instant::now());
        warn!(node, others_since_last_warning = others, reason, "stream feed not started");
    }
}

/// A held stream's share of the budget, given back when dropped.
struct Reservation(Arc<Room>);

impl Drop for Reservation {
    fn drop(&mut self) {
        self.0.streams.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A node counted in [`Room::nodes`] while its gate runs.
struct Counted(Arc<Room>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.nodes.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One of a node's two streams as the gate sees it.
#[derive(Default)]
struct Slot {
    held: Option<Reservation>,
    /// When the reservation of a stream nobody wants any more goes.
    release: Option<Deadline>,
}

impl Slot {
    /// Follows `wanted`; the refusal when the stream is wanted and has no room.
    fn follow(&mut self, wanted: bool, room: &Arc<Room>) -> Option<String> {
        if !wanted {
            if self.held.is_some() && self.release.is_none() {
                // The feed closes the SUB LINGER after it sees this: the budget a little later.
                self.release = Some(Deadline::now() + LINGER + Duration::from_secs(1));
            }
            return None;
        }
        self.release = None;
        if self.held.is_none() {
            match room.reserve() {
                Ok(reservation) => self.held = Some(reservation),
                Err(reason) => return Some(reason),
            }
        }
        None
    }

    fn release_if_due(&mut self) {
        if self.release.is_some_and(|at| at <= Deadline::now()) {
            self.release = None;
            self.held = None;
        }
    }
}

/// What the feed may see of `now`: only the streams with a reservation.
fn allowed(now: &Interest, stats: bool, events: bool) -> Interest {
    let everything = || BTreeSet::from([Vec::new()]);
    let pick = |held: bool, prefixes: &BTreeSet<Vec<u8>>| match (held, now.internal > 0) {
        (false, _) => BTreeSet::new(),
        (true, true) => everything(),
        (true, false) => prefixes.clone(),
    };
    Interest { stats: pick(stats, &now.stats), events: pick(events, &now.events), internal: 0 }
}

/// What `node`'s feed reads instead of `interest`: the same for the streams the budget has room
/// for, nothing wanted for those it has not. The gate stops with the feed (its receiver dropped).
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
        let (mut stats, mut events) = (Slot::default(), Slot::default());
        let mut logged = false;
        loop {
            stats.release_if_due();
            events.release_if_due();
            let now = interest.borrow_and_update().clone();
            let wanted = now.of(&node);
            let refused = stats.follow(wanted.stats, room).or(events.follow(wanted.events, room));
            match &refused {
                Some(reason) if !logged => {
                    room.log_refusal(&node, reason);
                    logged = true;
                }
                Some(_) => {}
                None => logged = false,
            }
            *counters.error.lock().expect("error lock") = refused.clone();
            let next = allowed(&now, stats.held.is_some(), events.held.is_some());
            gated.send_if_modified(|shown| {
                let changed = *shown != next;
                *shown = next;
                changed
            });
            let release = [stats.release, events.release].into_iter().flatten().min();
            tokio::select! {
                changed = interest.changed() => if changed.is_err() { return },
                () = gated.closed() => return,
                () = tokio::time::sleep_until(release.unwrap_or_else(Deadline::now)), if release.is_some() => {}
                () = tokio::time::sleep(RETRY), if refused.is_some() => {}
            }
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> BTreeSet<Vec<u8>> {
        items.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn the_feed_sees_only_the_streams_with_room() {
        let now = Interest { stats: set(&["stat."]), events: set(&["watcher."]), internal: 0 };
        let both = allowed(&now, true, true);
        assert_eq!(both.of("n"), now.of("n"));
        let stats_only = allowed(&now, true, false).of("n");
        assert!(stats_only.stats && !stats_only.events);
        assert_eq!(allowed(&now, false, false).of("n"), super::super::interest::Wanted::default());
        // In-process readers want everything: the gate passes what has room.
        let internal = Interest { internal: 1, ..Interest::default() };
        let events_only = allowed(&internal, false, true).of("n");
        assert!(!events_only.stats && events_only.events);
    }
}
