//! One real etcd (Debian's `etcd-server`, installed by `make system-deps`) on free loopback
//! ports, its data in a temp dir (under /dev/shm when there is one: etcd fsyncs a lot), stopped
//! with its process group on drop. For the `registry = "etcd"` tests.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use crate::{ports, procs, wait_for};

/// A running single-member etcd.
pub struct Etcd {
    /// Client URL (`http://127.0.0.1:PORT`), for `etcd_endpoints`.
    pub url: String,
    dir: TempDir,
    child: Child,
}

impl Etcd {
    /// True when the `etcd` binary is installed (`make system-deps` installs it as root).
    pub fn available() -> bool {
        Command::new("etcd").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
    }

    /// Starts etcd and waits until it answers `/health`.
    ///
    /// # Panics
    /// When etcd is not installed or does not become healthy within the fixtures' timeout.
    pub fn start() -> Etcd {
        let shm = std::path::Path::new("/dev/shm");
        let dir = if shm.is_dir() { TempDir::new_in(shm) } else { TempDir::new() }.expect("etcd temp dir");
        let (client, peer) = (ports::free_port(), ports::free_port());
        let url = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let log = std::fs::File::create(dir.path().join("etcd.log")).expect("etcd log");
        let mut command = Command::new("etcd");
        command
            .args(["--name", "t1", "--data-dir"])
            .arg(dir.path().join("data"))
            .args(["--listen-client-urls", &url, "--advertise-client-urls", &url])
            .args(["--listen-peer-urls", &peer_url, "--initial-advertise-peer-urls", &peer_url])
            .args(["--initial-cluster", &format!("t1={peer_url}")])
            .env(procs::TAG_VAR, procs::tag("etcd", dir.path()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("etcd log"))
            .stderr(log);
        let child = procs::spawn(&mut command);
        let etcd = Etcd { url, dir, child };
        wait_for("etcd to answer /health", || etcd.healthy());
        etcd
    }

    /// `Ok` when etcd's `/health` says so.
    fn healthy(&self) -> Result<(), String> {
        let addr = self.url.trim_start_matches("http://");
        let reply = crate::http::request(addr, "GET", "/health", &[])?;
        if reply.status == 200 && reply.body.contains("true") {
            Ok(())
        } else {
            Err(format!("HTTP {}: {}", reply.status, reply.body))
        }
    }

    /// Freezes etcd (SIGSTOP): it keeps its connections but answers nothing, as a hung etcd.
    pub fn freeze(&self) {
        procs::signal(self.child.id(), libc::SIGSTOP);
    }

    /// Lets a frozen etcd run again (SIGCONT).
    pub fn thaw(&self) {
        procs::signal(self.child.id(), libc::SIGCONT);
    }

    /// etcd's own log, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("etcd.log")).unwrap_or_default()
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        // A frozen etcd ignores SIGTERM until it is continued.
        procs::signal(self.child.id(), libc::SIGCONT);
        procs::terminate(&mut self.child, Duration::from_secs(5));
    }
}
