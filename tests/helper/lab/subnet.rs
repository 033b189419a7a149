//! One private /24 per lab, `10.200.N.0/24`, never the same N for two labs alive at once, in this
//! process or in another test binary: N is locked with `flock` on
//! `$TMPDIR/cluster-e2e-lab/<N>.lock` (as `ports` locks ports) until the lab is dropped. `flock`
//! locks belong to one open file, so two labs of the same process exclude each other too.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::time::{SystemTime, UNIX_EPOCH};

/// The labs' address block: `10.200.0.0/16`, private (RFC 1918), one /24 per lab.
pub const BLOCK: &str = "10.200";

/// A locked `10.200.N.0/24`; the lock is released on drop.
#[derive(Debug)]
pub struct Subnet {
    /// The third octet.
    pub n: u8,
    _lock: File,
}

impl Subnet {
    /// Locks a free N in 1..=254.
    ///
    /// # Panics
    /// When every N is taken (254 labs at once) or the lock folder cannot be made.
    pub fn lock() -> Subnet {
        let dir = std::env::temp_dir().join("cluster-e2e-lab");
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        // Start somewhere else in every process, so that parallel test binaries rarely contend.
        let seed =
            SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0) ^ std::process::id();
        for i in 0..254u32 {
            let n = (1 + (seed.wrapping_add(i)) % 254) as u8;
            let path = dir.join(format!("{n}.lock"));
            let Ok(file) = OpenOptions::new().create(true).truncate(false).write(true).open(&path) else { continue };
            // SAFETY: flock on a file descriptor we own; no memory is involved.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                return Subnet { n, _lock: file };
            }
        }
        panic!("no free lab subnet left in {BLOCK}.1-254.0/24 (254 labs at once?)");
    }

    /// `10.200.N.<host>`.
    pub fn address(&self, host: u8) -> String {
        format!("{BLOCK}.{}.{host}", self.n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_live_subnets_never_share_n() {
        let subnets: Vec<Subnet> = (0..20).map(|_| Subnet::lock()).collect();
        let mut ns: Vec<u8> = subnets.iter().map(|s| s.n).collect();
        ns.sort_unstable();
        ns.dedup();
        assert_eq!(ns.len(), 20);
        let n = subnets[0].n;
        assert_eq!(subnets[0].address(11), format!("10.200.{n}.11"));
    }
}
