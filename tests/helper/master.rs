//! The real `clusterd` binary on fresh loopback ports.

use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tempfile::TempDir;

use crate::{call, paths, ports, procs, wait_for, CircusNode};

mod ask;
mod files;

pub use files::{node_section, run_to_exit, write_file, CLUSTER_SECTION};

/// A running clusterd. Dropping it stops it; its stderr is printed if the test failed.
pub struct Master {
    /// Command endpoint (ROUTER).
    pub endpoint: String,
    /// Merged stats stream (PUB).
    pub stats_endpoint: String,
    /// Merged event stream (PUB).
    pub pubsub_endpoint: String,
    /// The config file clusterd was started with.
    pub config: PathBuf,
    dir: TempDir,
    child: Option<Child>,
    /// Started with `-v` (debug logs): every test master; benchmarks measure without it.
    verbose: bool,
    /// The open-files limit (soft and hard) clusterd runs under, when a test sets one.
    open_files_limit: Option<u64>,
    /// A file bind-mounted over /etc/resolv.conf in a private mount namespace (`unshare -m`),
    /// when a test gives the master a resolver of its own.
    resolv_conf: Option<PathBuf>,
}

impl Master {
    /// Starts clusterd with `nodes` as static `[node.NAME]` entries.
    pub fn start(nodes: &[&CircusNode]) -> Master {
        Master::start_keyed(nodes, "")
    }

    /// Like [`Master::start`] with more `[cluster]` keys (`key = value` lines).
    pub fn start_keyed(nodes: &[&CircusNode], cluster_keys: &str) -> Master {
        let mut text = format!("{CLUSTER_SECTION}{cluster_keys}");
        for node in nodes {
            text.push_str(&node_section(node));
        }
        Master::start_with_config(&text)
    }

    /// Starts clusterd with a TOML config; `{endpoint}`, `{stats_endpoint}` and
    /// `{pubsub_endpoint}` are replaced with fresh endpoints.
    pub fn start_with_config(text: &str) -> Master {
        Master::start_file("cluster.toml", text, true)
    }

    /// Like [`Master::start_with_config`] with a command endpoint chosen beforehand (written where
    /// the config says `{endpoint}`): for nodes that must know the master before it runs.
    pub fn start_at(endpoint: &str, text: &str) -> Master {
        Master::launch("cluster.toml", text, true, Some(endpoint))
    }

    /// Like [`Master::start_with_config`] for the 2012 INI form (`[circus-cluster]`, `[node:NAME]`).
    pub fn start_with_ini(text: &str) -> Master {
        Master::start_file("cluster.ini", text, true)
    }

    /// Like [`Master::start_with_config`], without waiting for the nodes to turn alive: for
    /// configs whose nodes are not running.
    pub fn start_unsettled(text: &str) -> Master {
        Master::start_file("cluster.toml", text, false)
    }

    /// Like [`Master::start_unsettled`] but at clusterd's default log level (info), as an
    /// operator runs it: for benchmarks, where debug logging would be measured too.
    pub fn start_quiet(text: &str) -> Master {
        Master::launch_with("cluster.toml", text, false, None, false)
    }

    /// Like [`Master::start_unsettled`] under an open-files limit (`RLIMIT_NOFILE`, soft and
    /// hard, so that clusterd cannot raise it): for the file-descriptor budget.
    pub fn start_with_open_files_limit(text: &str, limit: u64) -> Master {
        Master::start_confined(text, None, Some(limit))
    }

    /// Like [`Master::start_unsettled`] with `resolv_conf` as the master's /etc/resolv.conf
    /// (bind-mounted in a mount namespace of its own: nothing else on the machine sees it).
    pub fn start_with_resolv_conf(text: &str, resolv_conf: &std::path::Path) -> Master {
        Master::start_confined(text, Some(resolv_conf), None)
    }

    fn start_confined(text: &str, resolv_conf: Option<&std::path::Path>, limit: Option<u64>) -> Master {
        let mut master = Master::prepare("cluster.toml", text, None, true);
        master.resolv_conf = resolv_conf.map(std::path::Path::to_path_buf);
        master.open_files_limit = limit;
        master.child = Some(master.spawn());
        master.wait_ready(false);
        master
    }

    /// The open-files limit of the next [`Master::restart`].
    pub fn set_open_files_limit(&mut self, limit: Option<u64>) {
        self.open_files_limit = limit;
    }

    fn start_file(file_name: &str, text: &str, settle: bool) -> Master {
        Master::launch(file_name, text, settle, None)
    }

    fn launch(file_name: &str, text: &str, settle: bool, endpoint: Option<&str>) -> Master {
        Master::launch_with(file_name, text, settle, endpoint, true)
    }

    fn launch_with(file_name: &str, text: &str, settle: bool, endpoint: Option<&str>, verbose: bool) -> Master {
        let mut master = Master::prepare(file_name, text, endpoint, verbose);
        master.child = Some(master.spawn());
        master.wait_ready(settle);
        master
    }

    /// Writes the config with fresh endpoints; the process is not started yet.
    fn prepare(file_name: &str, text: &str, endpoint: Option<&str>, verbose: bool) -> Master {
        let dir = tempfile::Builder::new().prefix("e2e-master-").tempdir().expect("tempdir");
        let endpoint = endpoint.map_or_else(ports::free_endpoint, str::to_string);
        let (stats_endpoint, pubsub_endpoint) = (ports::free_endpoint(), ports::free_endpoint());
        let text = text
            .replace("{endpoint}", &endpoint)
            .replace("{stats_endpoint}", &stats_endpoint)
            .replace("{pubsub_endpoint}", &pubsub_endpoint);
        let config = dir.path().join(file_name);
        std::fs::write(&config, text).expect("write clusterd config");
        Master {
            endpoint,
            stats_endpoint,
            pubsub_endpoint,
            config,
            dir,
            child: None,
            verbose,
            open_files_limit: None,
            resolv_conf: None,
        }
    }

    /// Starts the clusterd process on this master's config, its output appended to the stderr
    /// file.
    fn spawn(&self) -> Child {
        let stderr =
            std::fs::OpenOptions::new().create(true).append(true).open(self.stderr_path()).expect("stderr file");
        let mut command =
            procs::command_with(&paths::workspace_bin("clusterd"), self.resolv_conf.as_deref(), self.open_files_limit);
        procs::spawn(
            command
                .args(self.verbose.then_some("-v"))
                .arg(&self.config)
                .current_dir(self.dir.path())
                .env(procs::TAG_VAR, procs::tag("master", self.dir.path()))
                .stdin(Stdio::null())
                .stdout(stderr.try_clone().expect("stderr fd"))
                .stderr(stderr),
        )
    }

    /// Kills clusterd with SIGKILL, as a crash would, and waits for it to be gone.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts clusterd again on the same config and endpoints (after [`Master::kill9`] or an
    /// exit) and waits until it answers.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "clusterd is still running");
        self.child = Some(self.spawn());
        self.wait_ready(false);
    }

    /// The folder holding the config, the stderr file and (by default) the state file.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    fn wait_ready(&mut self, settle: bool) {
        let endpoint = self.endpoint.clone();
        let stderr = self.stderr_path();
        let child = self.child.as_mut().expect("started");
        let reply = wait_for("clusterd to answer `nodes`", || {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("clusterd exited with {status}:\n{}", std::fs::read_to_string(&stderr).unwrap_or_default());
            }
            call(&endpoint, "nodes", json!({}), Duration::from_millis(500))
        });
        // Static nodes should turn alive within a heartbeat or two. Requests are tested against a
        // settled master; a master that never reports them alive is reported, not waited for.
        if !settle {
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut last = reply;
        while Instant::now() < deadline {
            let nodes = last["nodes"].as_array().cloned().unwrap_or_default();
            if nodes.iter().all(|n| n["state"] == "alive") {
                return;
            }
            std::thread::sleep(crate::POLL);
            last = call(&self.endpoint, "nodes", json!({}), Duration::from_secs(2)).unwrap_or(last);
        }
        eprintln!("warning: clusterd did not report every node alive within 5 s: {last}");
    }

    /// clusterd's pid, `None` once stopped.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Where clusterd's stderr goes.
    pub fn stderr_path(&self) -> PathBuf {
        self.dir.path().join("clusterd.stderr")
    }

    /// clusterd's stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.stderr_path()).unwrap_or_default()
    }

    /// Waits up to `grace` for clusterd to exit and returns its exit code.
    pub fn wait_exit(&mut self, grace: Duration) -> Option<i32> {
        let child = self.child.as_mut().expect("started");
        if procs::wait_exit(child, grace) {
            let code = child.try_wait().ok().flatten().and_then(|s| s.code());
            self.child = None;
            code
        } else {
            panic!("clusterd did not exit within {grace:?}:\n{}", self.stderr())
        }
    }

    /// Caps clusterd's address space at its current size plus `headroom` bytes
    /// ([`procs::cap_address_space`]): resource tests then check that it is still running.
    pub fn cap_memory(&self, headroom: u64) {
        procs::cap_address_space(self.pid().expect("clusterd running"), headroom);
    }

    /// Panics with clusterd's log when it is no longer running (it crashed).
    #[track_caller]
    pub fn assert_running(&mut self) {
        let child = self.child.as_mut().expect("started");
        if let Ok(Some(status)) = child.try_wait() {
            panic!("clusterd died ({status}):\n{}", self.stderr());
        }
    }

    /// Sends a signal to clusterd.
    pub fn signal(&self, signal: i32) {
        if let Some(pid) = self.pid() {
            procs::signal(pid, signal);
        }
    }
}

impl Drop for Master {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            procs::terminate(&mut child, Duration::from_secs(5));
        }
        if std::thread::panicking() {
            eprintln!("---- clusterd stderr ({}) ----\n{}", self.stderr_path().display(), self.stderr());
        }
    }
}

/// Asserts that a `nodes` entry has `source` and `node`'s three endpoints.
#[track_caller]
pub fn assert_entry(entry: &Value, node: &CircusNode, source: &str) {
    assert_eq!(entry["source"], source, "{entry}");
    assert_eq!(entry["endpoint"], node.endpoint.as_str(), "{entry}");
    assert_eq!(entry["stats_endpoint"], node.stats_endpoint.as_str(), "{entry}");
    assert_eq!(entry["pubsub_endpoint"], node.pubsub_endpoint.as_str(), "{entry}");
}
