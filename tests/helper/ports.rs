//! Free loopback TCP ports that no other test takes, in this process or in another one.
//!
//! A port from `bind(127.0.0.1:0)` comes from the kernel's ephemeral range, which is also where
//! the source ports of every outgoing connection come from: between the probe and circusd's
//! `bind`, a reconnecting ZeroMQ socket of another test may take it. So ports are picked *below*
//! the ephemeral range instead, and each one is:
//! * remembered in a process-wide set, never handed out twice by this process;
//! * locked with `flock` on `$TMPDIR/cluster-e2e-ports/<port>.lock`, held until the process
//!   exits, so that test binaries running in parallel never share one;
//! * checked free by binding it once.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

struct Allocator {
    given: HashSet<u16>,
    /// Held locks: dropping a `File` would release its `flock`.
    locks: Vec<File>,
    next: u16,
}

/// Lowest and one-past-highest port we pick from.
fn range() -> (u16, u16) {
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| text.split_whitespace().next().and_then(|n| n.parse::<u16>().ok()))
        .unwrap_or(32768);
    // 16000..low is clear of the well-known ports, of Circus's 555x/655x defaults and of the
    // ephemeral range; on a machine whose ephemeral range starts lower, fall back to 40000..
    if low > 20000 {
        (16000, low)
    } else {
        (40000, 65000)
    }
}

fn allocator() -> &'static Mutex<Allocator> {
    static ALLOCATOR: OnceLock<Mutex<Allocator>> = OnceLock::new();
    ALLOCATOR.get_or_init(|| {
        let (low, high) = range();
        let seed = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0)
            ^ std::process::id().wrapping_mul(2_654_435_761);
        let next = low + (seed % u32::from(high - low)) as u16;
        Mutex::new(Allocator { given: HashSet::new(), locks: Vec::new(), next })
    })
}

fn lock(port: u16) -> Option<File> {
    let dir = std::env::temp_dir().join("cluster-e2e-ports");
    std::fs::create_dir_all(&dir).ok()?;
    let file =
        OpenOptions::new().create(true).truncate(false).write(true).open(dir.join(format!("{port}.lock"))).ok()?;
    // SAFETY: flock on a file descriptor we own; no memory is involved.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    (rc == 0).then_some(file)
}

/// A loopback port that nothing listens on and no other test has.
///
/// # Panics
/// When the whole range is taken.
pub fn free_port() -> u16 {
    let (low, high) = range();
    let mut alloc = allocator().lock().unwrap_or_else(|e| e.into_inner());
    for _ in low..high {
        let port = alloc.next;
        alloc.next = if port + 1 >= high { low } else { port + 1 };
        if alloc.given.contains(&port) {
            continue;
        }
        let Some(file) = lock(port) else { continue };
        if TcpListener::bind(("127.0.0.1", port)).is_err() {
            continue;
        }
        alloc.given.insert(port);
        alloc.locks.push(file);
        return port;
    }
    panic!("no free loopback port left in {low}..{high}");
}

/// A run of consecutive ports taken by [`free_block`], given back when dropped (a long process,
/// the bench, starts tens of thousands of simulated nodes one set after the other).
pub struct Block {
    /// The first port.
    pub start: u16,
    count: u16,
    _locks: Vec<File>,
}

impl Drop for Block {
    fn drop(&mut self) {
        let mut alloc = allocator().lock().unwrap_or_else(|e| e.into_inner());
        for port in self.start..self.start + self.count {
            alloc.given.remove(&port);
        }
        // The locks go with `self._locks`.
    }
}

/// `count` consecutive free loopback ports (for `simnode --base-port`, whose nodes bind
/// `base + 3i ..`), each taken as [`free_port`] takes one, until the [`Block`] is dropped.
///
/// `None` when no such run is left in the range (or `count` is larger than it).
pub fn free_block(count: usize) -> Option<Block> {
    let (low, high) = range();
    let count = u16::try_from(count).ok().filter(|count| *count <= high - low)?;
    let mut alloc = allocator().lock().unwrap_or_else(|e| e.into_inner());
    let mut tried = 0u32;
    while tried < u32::from(high - low) {
        let start = if u32::from(alloc.next) + u32::from(count) > u32::from(high) { low } else { alloc.next };
        let mut taken = Vec::with_capacity(usize::from(count));
        for port in start..start + count {
            let free = if alloc.given.contains(&port) {
                None
            } else {
                lock(port).filter(|_| TcpListener::bind(("127.0.0.1", port)).is_ok())
            };
            match free {
                Some(file) => taken.push(file),
                None => break,
            }
        }
        let got = taken.len() as u16;
        if got == count {
            alloc.given.extend(start..start + count);
            alloc.next = if start + count >= high { low } else { start + count };
            return Some(Block { start, count, _locks: taken });
        }
        // The locks of a partial run are dropped (released); go on past the port that failed.
        alloc.next = if start + got + 1 >= high { low } else { start + got + 1 };
        tried += u32::from(got) + 1;
    }
    None
}

/// `tcp://127.0.0.1:<free port>`.
pub fn free_endpoint() -> String {
    format!("tcp://127.0.0.1:{}", free_port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_never_repeated() {
        let ports: Vec<u16> = (0..50).map(|_| free_port()).collect();
        let unique: HashSet<_> = ports.iter().collect();
        assert_eq!(unique.len(), ports.len());
        for port in ports {
            TcpListener::bind(("127.0.0.1", port)).expect("port is free");
        }
    }

    #[test]
    fn a_block_is_consecutive_free_and_given_back_when_dropped() {
        let block = free_block(30).expect("30 free ports");
        for port in block.start..block.start + 30 {
            TcpListener::bind(("127.0.0.1", port)).expect("port is free");
        }
        let other = free_block(30).expect("30 more");
        assert!(other.start >= block.start + 30 || other.start + 30 <= block.start, "blocks overlap");
        let start = block.start;
        drop(block);
        let alloc = allocator().lock().unwrap_or_else(|e| e.into_inner());
        assert!((start..start + 30).all(|port| !alloc.given.contains(&port)), "ports given back");
    }
}
