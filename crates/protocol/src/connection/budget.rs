//! The file-descriptor budget: checked before the master opens a node's sockets, so that running
//! out of descriptors is a refusal with a reason, never libzmq's abort (`Too many open files
//! (epoll.cpp:65)`, from a new context's I/O thread whose `epoll_create` fails).
//!
//! Counted from the process's open-files limit (`RLIMIT_NOFILE`, read from `/proc/self/limits`)
//! and the descriptors open now (`/proc/self/fd`). Where `/proc` cannot be read the check passes:
//! it is a guard, and libzmq's own `EMFILE` still comes back as an error.

use std::fs;

/// What one node costs the master at most, measured (`tests/node_budget.rs`,
/// `a_node_costs_its_budget`): its command connection on the ROUTER all nodes share (1: the
/// TCP connection; the shared socket, its monitor and thread are paid once), and the stats and
/// events SUBs with their mailboxes and connections (4) while someone subscribes.
pub const FDS_PER_NODE: usize = 5;

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

/// The soft limit on open files, from `/proc/self/limits` (`Max open files  SOFT  HARD  files`);
/// `usize::MAX` for "unlimited".
fn open_files_limit() -> Option<usize> {
    let limits = fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|line| line.starts_with("Max open files"))?;
    let soft = line.trim_start_matches("Max open files").split_whitespace().next()?;
    if soft == "unlimited" {
        return Some(usize::MAX);
    }
    soft.parse().ok()
}

/// Checks that one more node fits beside `nodes` nodes, the process having had `base_open`
/// descriptors open before the first: each node counts at its full cost whether its connections
/// are up yet or not (they are made in the background, so a burst of registrations, or a
/// state file read at start-up, would otherwise be counted before it costs anything).
///
/// # Errors
/// The refusal, naming the limit, the use and how to raise it.
pub fn check_room_for_node(nodes: usize, base_open: usize) -> Result<(), String> {
    let Some(limit) = open_files_limit() else { return Ok(()) };
    let held = base_open + nodes * FDS_PER_NODE;
    // Counting /proc/self/fd walks every open descriptor: done for every node, it made a start
    // over 2,000 saved nodes take 18 s instead of 1.4 s (make bench). Far from the limit the
    // nodes' own count decides; near it (the last quarter), the real count is read too.
    let open = if (held + FDS_PER_NODE + RESERVED_FDS).saturating_mul(4) < limit.saturating_mul(3) {
        held
    } else {
        Usage::now().map_or(held, |usage| usage.open)
    };
    let used = open.max(held);
    if used + FDS_PER_NODE + RESERVED_FDS <= limit {
        return Ok(());
    }
    Err(format!(
        "out of file descriptors: {used} of the open-files limit (RLIMIT_NOFILE) {limit} are in use or \
         held for the {nodes} nodes, and a node needs {FDS_PER_NODE} (plus {RESERVED_FDS} kept free); \
         raise the limit (LimitNOFILE= in the systemd unit, `ulimit -n` or `prlimit --nofile`) and \
         restart clusterd"
    ))
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
    }
}
