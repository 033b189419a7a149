//! The kernel side of a lab: network namespaces, a bridge, veth pairs (all made with `ip` from
//! iproute2), and entering a namespace from the calling thread with `setns(2)`.
//!
//! A network namespace is a property of each thread, and what a thread creates inherits it: the
//! sockets it opens, the threads it starts (ZeroMQ's I/O threads among them) and the processes it
//! spawns. That is what `ip netns exec` does before `exec`, done here on the test's own thread
//! so that every fixture (circusd, clusterd, circusctl, clients, subscribers) works unchanged
//! inside a host.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};

/// Runs `ip <args>`.
///
/// # Errors
/// `ip` is missing, or failed: its stderr.
pub fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run `ip` (install iproute2): {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// Like [`ip`], panicking on failure: for steps that cannot fail once namespaces can be made.
#[track_caller]
pub fn must_ip(args: &[&str]) {
    ip(args).unwrap_or_else(|e| panic!("{e}"));
}

/// The processes inside namespace `netns` (`ip netns pids`); none when it is gone.
pub fn pids(netns: &str) -> Vec<u32> {
    Command::new("ip")
        .args(["netns", "pids", netns])
        .stderr(Stdio::null())
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).split_whitespace().filter_map(|p| p.parse().ok()).collect())
        .unwrap_or_default()
}

/// Makes the switch's bridge `br0` in namespace `switch` (already added).
pub fn add_switch_bridge(switch: &str) {
    must_ip(&["-n", switch, "link", "add", "br0", "type", "bridge"]);
    must_ip(&["-n", switch, "link", "set", "br0", "up"]);
}

/// Makes host namespace `netns` with `eth0` at `address`/24, plugged into the switch's bridge as
/// port `port`. Its only routes are its /24 and multicast (224.0.0.0/4, for Circus's UDP
/// discovery), both on `eth0`: no default route, so nothing can leave the lab.
pub fn add_host(netns: &str, address: &str, switch: &str, port: &str) {
    must_ip(&["netns", "add", netns]);
    must_ip(&["-n", netns, "link", "set", "lo", "up"]);
    // Both ends are made inside their namespaces: no interface name is ever taken in the root
    // namespace, where parallel labs would collide.
    must_ip(&["-n", netns, "link", "add", "eth0", "type", "veth", "peer", "name", port, "netns", switch]);
    must_ip(&["-n", switch, "link", "set", port, "master", "br0", "up"]);
    must_ip(&["-n", netns, "addr", "add", &format!("{address}/24"), "dev", "eth0"]);
    must_ip(&["-n", netns, "link", "set", "eth0", "up"]);
    must_ip(&["-n", netns, "route", "add", "224.0.0.0/4", "dev", "eth0"]);
}

/// Sets a switch port down (`up = false`) or up: the host's cable pulled out or plugged back.
pub fn set_port(switch: &str, port: &str, up: bool) {
    must_ip(&["-n", switch, "link", "set", port, if up { "up" } else { "down" }]);
}

/// The nftables table of a one-way cut, in the host's own namespace.
const ONE_WAY_TABLE: &str = "inet cluster_e2e_lab";

/// Drops (`drop = true`) everything host namespace `netns` sends on `eth0`, while it still
/// receives: the half of a partition where a host hears but is not heard. `drop = false` removes
/// the rule (nothing happens when there is none).
///
/// # Panics
/// When `nft` (nftables) is missing or refuses the rule.
pub fn drop_outgoing(netns: &str, drop: bool) {
    let script = if drop {
        format!(
            "add table {ONE_WAY_TABLE}; add chain {ONE_WAY_TABLE} out {{ type filter hook output priority 0; \
             policy accept; }}; add rule {ONE_WAY_TABLE} out oifname \"eth0\" drop"
        )
    } else {
        format!("delete table {ONE_WAY_TABLE}")
    };
    let out = Command::new("ip")
        .args(["netns", "exec", netns, "nft", &script])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run `ip netns exec ... nft`: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let nothing_to_remove = !drop && stderr.contains("No such file or directory");
    if !out.status.success() && !nothing_to_remove {
        panic!("nft {script} in {netns} (install nftables; scripts/system-deps.sh does): {}", stderr.trim());
    }
}

/// Whether `nft` (nftables) can be run, for one-way cuts.
pub fn has_nft() -> bool {
    Command::new("nft").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
}

/// Kills every process inside `netns` (SIGKILL, by pid), waits until none is left, and deletes the
/// namespace. Never panics: it runs in `Drop`.
pub fn remove(netns: &str) {
    for _ in 0..100 {
        let left = pids(netns);
        if left.is_empty() {
            break;
        }
        for pid in left {
            crate::procs::signal(pid, libc::SIGKILL);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    if let Err(e) = ip(&["netns", "del", netns]) {
        eprintln!("lab: cannot delete namespace {netns}: {e}");
    }
}

/// The calling thread inside another network namespace until dropped, which brings it back.
pub struct Entered {
    original: File,
}

impl Entered {
    /// Moves the calling thread into `netns` (a name of `ip netns`).
    ///
    /// # Panics
    /// When the namespace does not exist or `setns` is refused.
    pub fn netns(netns: &str) -> Entered {
        let original = File::open("/proc/thread-self/ns/net").expect("open this thread's network namespace");
        let path = format!("/run/netns/{netns}");
        let target = File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        set(&target).unwrap_or_else(|e| panic!("setns into {netns}: {e}"));
        Entered { original }
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        if let Err(e) = set(&self.original) {
            // A test thread left in a lab namespace would run everything that follows there.
            eprintln!("lab: cannot return to the original network namespace: {e}");
            std::process::abort();
        }
    }
}

fn set(namespace: &File) -> std::io::Result<()> {
    // SAFETY: setns(2) on a descriptor we own; it changes only this thread's network namespace.
    if unsafe { libc::setns(namespace.as_raw_fd(), libc::CLONE_NEWNET) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
