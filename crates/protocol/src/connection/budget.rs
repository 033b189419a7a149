//! The file-descriptor budget: checked before the master opens a node's sockets, so that running
//! out of descriptors is a refusal with a reason, never libzmq's abort (`Too many open files
//! (epoll.cpp:65)`, from a new context's I/O thread whose `epoll_create` fails).
//!
//! Counted from the process's open-files limit (`RLIMIT_NOFILE`) and the descriptors open now
//! (`/proc/self/fd`). Where `/proc` cannot be read the check passes:
//! it is a guard, and libzmq's own `EMFILE` still comes back as an error.

use std::fs;

/// What one node costs the master from registration, measured (`tests/node_budget.rs`,
/// `a_node_costs_its_budget`): its command connection on the ROUTER all nodes share (1: the
/// TCP connection; the shared socket, its monitor and thread are paid once). Its stats and
/// events SUBs are counted apart, only while someone subscribes ([`FDS_PER_STREAM`]).
pub const FDS_PER_NODE: usize = 1;

/// What a new libzmq context costs: its I/O thread's and reaper's epoll and mailboxes.
pub const FDS_PER_CONTEXT: usize = 6;

/// Kept free for everything else: client connections to the command endpoint, discovery
/// probes, the state file and its temp file, logs.
pub const RESERVED_FDS: usize = 64;

/// The open-files limit and the descriptors in use, when `/proc` tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Open now.
    pub open: usize,
    /// The soft `RLIMIT_NOFILE`.
    pub limit: usize,
}

impl Usage {
    /// The process's usage now; `None` when `/proc` cannot tell.
    pub fn now() -> Option<Usage> {
        let limit = open_files_limit()?;
        let open = fs::read_dir("/proc/self/fd").ok()?.count();
        Some(Usage { open, limit })
    }
}

/// The soft limit on open files (`getrlimit(RLIMIT_NOFILE)`: a system call, read on every
/// check because an operator may change it with `prlimit`; reading `/proc/self/limits` instead
/// was 4.5 % of a 5,000-node start-up); `usize::MAX` for "unlimited".
fn open_files_limit() -> Option<usize> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes the one `rlimit` it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return None;
    }
    if limit.rlim_cur == libc::RLIM_INFINITY {
        return Some(usize::MAX);
    }
    Some(usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX))
}

/// What one stream feed costs the master, measured (`tests/stream_budget.rs`, `a_stream_feed_costs_its_budget`): the
/// stats and events SUBs, each with its eventfd mailbox and its TCP connection.
pub const FDS_PER_STREAM_FEED: usize = 4;

/// What one of a feed's two streams costs (its SUB's mailbox and TCP connection): each is counted
/// only while a subscriber wants it (`streams/room.rs`), so a subscriber to `stat.` costs every
/// node this, not the whole feed, and an idle fleet holds no stream connection.
pub const FDS_PER_STREAM: usize = FDS_PER_STREAM_FEED / 2;

/// Checks that one more node fits beside `nodes` nodes, the process having had `base_open`
/// descriptors open before the first, plus those held for started stream feeds: each node
/// counts at its command cost ([`FDS_PER_NODE`]) whether its connection is up yet or not (it is
/// made in the background, so a burst of registrations, or a state file read at start-up, would
/// otherwise be counted before it costs anything). Its stream feed is checked when it starts
/// ([`check_room_for_stream`]).
///
/// # Errors
/// The refusal, naming the limit, the use and how to raise it.
pub fn check_room_for_node(nodes: usize, base_open: usize) -> Result<(), String> {
    let Some(limit) = open_files_limit() else { return Ok(()) };
    let held = base_open + nodes * FDS_PER_NODE;
    room(limit, held, FDS_PER_NODE, open_now).map_err(|used| {
        format!(
            "out of file descriptors: {used} of the open-files limit (RLIMIT_NOFILE) {limit} are in use or \
             held for the {nodes} nodes, and a node needs {FDS_PER_NODE} (plus {RESERVED_FDS} kept free); \
             raise the limit (LimitNOFILE= in the systemd unit, `ulimit -n` or `prlimit --nofile`) and \
             restart clusterd"
        )
    })
}

/// Checks that one more node stream (a feed's stats or events SUB) fits beside `nodes` nodes
/// and `streams` held streams, `base_open` descriptors having been open before the first node.
///
/// # Errors
/// The refusal, naming the limit, the use and how to raise it.
pub fn check_room_for_stream(nodes: usize, streams: usize, base_open: usize) -> Result<(), String> {
    let Some(limit) = open_files_limit() else { return Ok(()) };
    let held = base_open + nodes * FDS_PER_NODE + streams * FDS_PER_STREAM;
    room(limit, held, FDS_PER_STREAM, open_now).map_err(|used| {
        format!(
            "out of file descriptors for the node's stats or events stream: {used} of the open-files limit \
             (RLIMIT_NOFILE) {limit} are in use or held for {nodes} nodes and {streams} node streams, and a \
             stream needs {FDS_PER_STREAM} (plus {RESERVED_FDS} kept free); raise the limit (`prlimit --nofile` \
             on the running master, or LimitNOFILE= in the systemd unit / `ulimit -n` and restart clusterd)"
        )
    })
}

/// The descriptors open now, when `/proc` tells.
fn open_now() -> Option<usize> {
    Usage::now().map(|usage| usage.open)
}

/// Whether `need` more descriptors fit under `limit` beside `held` counted ones and
/// [`RESERVED_FDS`]; the refusal carries the use counted.
///
/// Counting /proc/self/fd walks every open descriptor: done for every node, it made a start
/// over 2,000 saved nodes take 18 s instead of 1.4 s (make bench). Far from the limit the held
/// count decides; near it (the last quarter), the real count (`open_now`) is read too, and the
/// larger of the two counts.
fn room(limit: usize, held: usize, need: usize, open_now: impl FnOnce() -> Option<usize>) -> Result<(), usize> {
    let open = if (held + need + RESERVED_FDS).saturating_mul(4) < limit.saturating_mul(3) {
        held
    } else {
        open_now().unwrap_or(held)
    };
    let used = open.max(held);
    if used + need + RESERVED_FDS <= limit {
        Ok(())
    } else {
        Err(used)
    }
}

/// True when a new libzmq context can start without running out of descriptors in its I/O
/// thread (which libzmq would answer with an abort).
pub fn room_for_context() -> bool {
    Usage::now().is_none_or(|usage| usage.open + FDS_PER_CONTEXT + RESERVED_FDS / 2 <= usage.limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_reads_proc() {
        let usage = Usage::now().expect("/proc on Linux");
        assert!(usage.open >= 3 && usage.limit >= usage.open, "{usage:?}");
        assert!(check_room_for_node(0, usage.open).is_ok() || usage.limit < usage.open + 72);
        // Nodes count at their full cost even before they have connected.
        let nodes = usage.limit / FDS_PER_NODE;
        let refused = check_room_for_node(nodes, 0).unwrap_err();
        assert!(refused.contains("RLIMIT_NOFILE") && refused.contains("LimitNOFILE="), "{refused}");
        let streams = usage.limit / FDS_PER_STREAM;
        let refused = check_room_for_stream(0, streams, 0).unwrap_err();
        assert!(refused.contains("RLIMIT_NOFILE") && refused.contains("prlimit --nofile"), "{refused}");
    }

    #[test]
    fn room_counts_what_is_held_and_reads_the_real_use_near_the_limit() {
        let never = || -> Option<usize> { panic!("far from the limit, /proc is not read") };
        // 1,000 descriptors: 64 kept free, so 936 usable.
        assert_eq!(room(1_000, 100, 4, never), Ok(()));
        assert_eq!(room(1_000, 932, 4, || Some(0)), Ok(()), "exactly full fits");
        assert_eq!(room(1_000, 933, 4, || Some(0)), Err(933));
        // Near the limit, more open than held (descriptors the count does not know) refuses.
        assert_eq!(room(1_000, 800, 4, || Some(940)), Err(940));
        assert_eq!(room(1_000, 800, 4, || None), Ok(()), "no /proc: the held count decides");
        // A stream beside nodes at their command cost and held streams: 10 nodes, 20 streams,
        // 40 at the start.
        let held = 40 + 10 * FDS_PER_NODE + 20 * FDS_PER_STREAM;
        let usable = held + FDS_PER_STREAM + RESERVED_FDS;
        assert_eq!(room(usable, held, FDS_PER_STREAM, || Some(held)), Ok(()));
        assert_eq!(room(usable - 1, held, FDS_PER_STREAM, || Some(held)), Err(held));
    }
}
