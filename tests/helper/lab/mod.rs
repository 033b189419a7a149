//! A network lab for tests across hosts: one network namespace per simulated host, all plugged
//! into a bridge in a switch namespace, on a private `10.200.N.0/24` of their own, with no route
//! out. Needs root and `ip` (iproute2); elsewhere [`Lab::new`] says why it skips, on stderr past
//! the test harness's capture, and returns `None`.
//!
//! ```text
//!  host m (the master's): 10.200.N.1     hosts h1, h2, ...: 10.200.N.11, .12, ...
//!        eth0 ─── p-m ┐                        eth0 ─── p-h1 ┐
//!                     └──────── br0 (namespace <prefix>-sw) ──┘
//! ```
//!
//! * Names: namespaces `cdlab-<test pid>-<counter>-<host>` (unique across parallel tests and
//!   test binaries; `scripts/check-leaks.sh` removes those whose test process is gone), the
//!   switch `...-sw`; interfaces `eth0` in a host and `p-<host>` on the switch (never in the root
//!   namespace, so names never collide there).
//! * Running things on a host: [`Lab::within`] moves the test's thread into the host's namespace
//!   for a closure, so every fixture works there unchanged: [`crate::CircusNode`] (e.g. with
//!   [`crate::node::Binding::host`]), [`crate::Master`], [`crate::cli`] (stock circusctl,
//!   clusterctl), requests and subscriptions. Processes spawned there stay there.
//! * Partitions: [`Lab::cut`] sets the host's switch port down (its cable pulled out at the
//!   switch: its packets vanish, nothing is refused), [`Lab::heal`] sets it up again;
//!   [`Lab::cut_outgoing`] cuts one way only (an nftables drop rule on what the host sends).
//! * Cleanup on every path, panics included: fixtures are dropped first (declared after the lab),
//!   then the lab SIGKILLs whatever still runs in its namespaces, by pid, and deletes them.

mod net;
pub mod subnet;

use std::io::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::node::Binding;
use crate::CircusNode;
use subnet::Subnet;

/// The master's host, in every lab: `10.200.N.1`.
pub const MASTER_HOST: &str = "m";

/// What every lab namespace's name starts with (`scripts/check-leaks.sh` looks for it).
pub const NETNS_PREFIX: &str = "cdlab-";

/// One simulated host.
#[derive(Debug, Clone)]
pub struct Host {
    /// Its name in the test (`m`, `h1`...).
    pub name: String,
    /// Its network namespace (`ip netns exec <netns> ...` reaches it by hand).
    pub netns: String,
    /// Its address on the lab's subnet.
    pub address: String,
    /// Its port on the switch's bridge.
    port: String,
}

/// A lab: dropped, it removes everything it made.
pub struct Lab {
    switch: String,
    subnet: Subnet,
    hosts: Vec<Host>,
    /// Hosts cut one way ([`Lab::cut_outgoing`]), whose drop rule [`Lab::heal`] removes.
    one_way: Mutex<Vec<String>>,
}

impl Lab {
    /// Builds a lab with the master's host [`MASTER_HOST`] and `hosts` (short lowercase names),
    /// addressed `.11`, `.12`... in the order given. `None` when this machine cannot (not root, no
    /// `ip`, namespaces refused): the reason is printed as `lab: skipped: ...`.
    ///
    /// # Panics
    /// On a bad host name, or when building the network fails for another reason.
    pub fn new<'a>(hosts: impl IntoIterator<Item = &'a str>) -> Option<Lab> {
        static LABS: AtomicUsize = AtomicUsize::new(0);
        let names: Vec<&str> = std::iter::once(MASTER_HOST).chain(hosts).collect();
        for (i, name) in names.iter().enumerate() {
            let valid = !name.is_empty() && name.len() <= 12 && name.bytes().all(|b| b.is_ascii_alphanumeric());
            assert!(valid && *name != "sw" && !names[..i].contains(name), "bad or repeated lab host name {name:?}");
        }
        assert!(names.len() <= 100, "at most 99 hosts besides {MASTER_HOST}");
        // SAFETY: geteuid has no side effects.
        if unsafe { libc::geteuid() } != 0 {
            return skip("not root (network namespaces need CAP_SYS_ADMIN)");
        }
        let prefix = format!("{NETNS_PREFIX}{}-{}", std::process::id(), LABS.fetch_add(1, Ordering::Relaxed));
        let switch = format!("{prefix}-sw");
        match net::ip(&["netns", "add", &switch]) {
            Ok(()) => {}
            Err(e) if e.contains("cannot run `ip`") => return skip(&e),
            Err(e) if e.contains("not permitted") || e.contains("Permission denied") => {
                return skip(&format!("cannot create network namespaces: {e}"))
            }
            Err(e) => panic!("{e}"),
        }
        // From here on, a panic drops `lab`, which removes what was made so far.
        let mut lab =
            Lab { switch: switch.clone(), subnet: Subnet::lock(), hosts: Vec::new(), one_way: Mutex::new(Vec::new()) };
        net::add_switch_bridge(&switch);
        for (i, name) in names.iter().enumerate() {
            let host = Host {
                name: name.to_string(),
                netns: format!("{prefix}-{name}"),
                address: lab.subnet.address(if i == 0 { 1 } else { 10 + i as u8 }),
                port: format!("p-{name}"),
            };
            lab.hosts.push(host.clone());
            net::add_host(&host.netns, &host.address, &switch, &host.port);
        }
        Some(lab)
    }

    /// The host named `name`.
    ///
    /// # Panics
    /// When the lab has no such host.
    pub fn host(&self, name: &str) -> &Host {
        self.hosts.iter().find(|h| h.name == name).unwrap_or_else(|| panic!("no lab host {name}"))
    }

    /// The address of host `name`.
    pub fn address(&self, name: &str) -> &str {
        &self.host(name).address
    }

    /// `10.200.N`: the lab's /24 without its last octet.
    pub fn net(&self) -> String {
        format!("{}.{}", subnet::BLOCK, self.subnet.n)
    }

    /// `tcp://<address of host>:<port>`.
    pub fn endpoint(&self, name: &str, port: u16) -> String {
        format!("tcp://{}:{port}", self.address(name))
    }

    /// The name clusterd's discovery gives the circusd of host `name` on `port`
    /// (`10-200-N-11-5555`).
    pub fn discovered_name(&self, name: &str, port: u16) -> String {
        format!("{}-{port}", self.address(name).replace('.', "-"))
    }

    /// Runs `f` on this thread inside host `name`'s network namespace, and comes back (also
    /// when `f` panics). What `f` spawns runs in that host; sockets it opens stay there.
    pub fn within<T>(&self, name: &str, f: impl FnOnce() -> T) -> T {
        let _inside = net::Entered::netns(&self.host(name).netns);
        f()
    }

    /// A circusd on host `name`, bound at the host's address on Circus's default ports (5555,
    /// 5556, 5557), running `watchers` (name, numprocesses); started and checked from inside
    /// the host. Its fixture methods that talk to it must run [`Lab::within`] that host too.
    pub fn circusd(&self, name: &str, watchers: &[(&str, usize)]) -> CircusNode {
        self.within(name, || CircusNode::start_at(Binding::host(self.address(name)), name, watchers, ""))
    }

    /// Cuts host `name` off the network: its switch port goes down, and whatever it sends or is
    /// sent is lost (it still reaches its own address).
    pub fn cut(&self, name: &str) {
        let host = self.host(name);
        net::set_port(&self.switch, &host.port, false);
    }

    /// Cuts host `name` off one way: whatever it sends is dropped (an nftables rule in its own
    /// namespace), while it still receives. Needs `nft` (see [`Lab::can_cut_one_way`]).
    pub fn cut_outgoing(&self, name: &str) {
        let host = self.host(name);
        net::drop_outgoing(&host.netns, true);
        self.one_way.lock().unwrap_or_else(|e| e.into_inner()).push(host.name.clone());
    }

    /// Whether [`Lab::cut_outgoing`] can work here (nftables installed); when it cannot, the
    /// reason is printed as `lab: skipped: ...`.
    pub fn can_cut_one_way(&self) -> bool {
        net::has_nft() || skip("`nft` not installed (nftables: scripts/system-deps.sh installs it)").is_some()
    }

    /// Plugs host `name` back in after [`Lab::cut`] or [`Lab::cut_outgoing`].
    pub fn heal(&self, name: &str) {
        let host = self.host(name);
        net::set_port(&self.switch, &host.port, true);
        let mut one_way = self.one_way.lock().unwrap_or_else(|e| e.into_inner());
        if one_way.contains(&host.name) {
            net::drop_outgoing(&host.netns, false);
            one_way.retain(|h| *h != host.name);
        }
    }

    /// Pids of the processes running inside host `name`.
    pub fn pids(&self, name: &str) -> Vec<u32> {
        net::pids(&self.host(name).netns)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("---- lab {} ----", self.net());
            for host in &self.hosts {
                eprintln!("  {} {} (netns {}): pids {:?}", host.name, host.address, host.netns, net::pids(&host.netns));
            }
        }
        for host in &self.hosts {
            net::remove(&host.netns);
        }
        net::remove(&self.switch);
    }
}

/// Says why the lab tests cannot run here, on the real stderr (the test harness captures
/// `eprintln!` of passing tests: a skip must not be silent), and returns `None`.
fn skip(reason: &str) -> Option<Lab> {
    let test = std::thread::current().name().unwrap_or("a lab test").to_string();
    let _ = writeln!(std::io::stderr(), "lab: skipped: {reason} ({test})");
    None
}
