//! One real circusd from the venv, on fresh loopback ports, in a temp dir.

use std::fmt::Write as _;
use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;
use tempfile::TempDir;

use crate::{call, paths, ports, procs, wait_for};

mod ask;

/// Command every test watcher runs: harmless, long-lived, respawns fine.
pub const WATCHER_CMD: &str = "sleep 3600";

/// An ini section (for [`CircusNode::start_with`]) for watcher `name`: one process that ignores
/// SIGTERM, so that stopping it takes `graceful_timeout` seconds before circusd kills it. A
/// `stop` with `waiting: true` of it is a request that stays in flight that long.
pub fn stubborn_watcher(name: &str, graceful_timeout: u32) -> String {
    // `exec` keeps the ignored SIGTERM: one process, nothing left behind when it is killed.
    format!(
        "\n[watcher:{name}]\ncmd = sh -c 'trap \"\" TERM; exec sleep 3600'\nnumprocesses = 1\ncopy_env = True\n\
         graceful_timeout = {graceful_timeout}\n"
    )
}

/// The three endpoints a circusd binds.
#[derive(Debug, Clone)]
pub struct Binding {
    /// Command endpoint (ROUTER).
    pub endpoint: String,
    /// Event endpoint (PUB).
    pub pubsub_endpoint: String,
    /// Stats endpoint (PUB, bound by circusd-stats).
    pub stats_endpoint: String,
}

impl Binding {
    /// Fresh loopback ports that no other test has ([`ports::free_endpoint`]).
    pub fn loopback() -> Binding {
        Binding {
            endpoint: ports::free_endpoint(),
            pubsub_endpoint: ports::free_endpoint(),
            stats_endpoint: ports::free_endpoint(),
        }
    }

    /// Circus's default ports (5555, 5556, 5557) on `address`: for a host of its own (a lab
    /// namespace), where nothing else binds them.
    pub fn host(address: &str) -> Binding {
        Binding {
            endpoint: format!("tcp://{address}:5555"),
            pubsub_endpoint: format!("tcp://{address}:5556"),
            stats_endpoint: format!("tcp://{address}:5557"),
        }
    }
}

/// A running circusd. Dropping it stops circusd and every process it started.
pub struct CircusNode {
    /// The node name clusterd knows it by.
    pub name: String,
    /// Command endpoint (ROUTER).
    pub endpoint: String,
    /// Event endpoint (PUB).
    pub pubsub_endpoint: String,
    /// Stats endpoint (PUB, bound by circusd-stats).
    pub stats_endpoint: String,
    /// Configured watchers and their process counts.
    pub watchers: Vec<(String, usize)>,
    dir: TempDir,
    child: Option<Child>,
    tag: String,
}

impl CircusNode {
    /// Starts circusd with `watchers` (name, numprocesses), each running [`WATCHER_CMD`], and
    /// waits until every watcher runs its processes.
    pub fn start(name: &str, watchers: &[(&str, usize)]) -> CircusNode {
        CircusNode::start_with(name, watchers, "")
    }

    /// Like [`CircusNode::start`], with `extra` appended to the ini (e.g. `[socket:web]`).
    /// `{ini}` in `extra` stands for the ini's absolute path (for `clusterctl join {ini}`).
    pub fn start_with(name: &str, watchers: &[(&str, usize)], extra: &str) -> CircusNode {
        CircusNode::start_inner(name, Binding::loopback(), watchers, |node| node.ini_text(extra))
    }

    /// Like [`CircusNode::start_with`], bound at `binding` (a lab host's address) instead of
    /// fresh loopback ports.
    pub fn start_at(binding: Binding, name: &str, watchers: &[(&str, usize)], extra: &str) -> CircusNode {
        CircusNode::start_inner(name, binding, watchers, |node| node.ini_text(extra))
    }

    /// Starts circusd from a complete ini whose `{endpoint}`, `{pubsub_endpoint}` and
    /// `{stats_endpoint}` are replaced with fresh endpoints (and `{ini}` with the ini's path);
    /// `watchers` is what it must run.
    pub fn start_from_template(name: &str, template: &str, watchers: &[(&str, usize)]) -> CircusNode {
        CircusNode::start_from_template_at(Binding::loopback(), name, template, watchers)
    }

    /// Like [`CircusNode::start_from_template`], bound at `binding`.
    pub fn start_from_template_at(
        binding: Binding,
        name: &str,
        template: &str,
        watchers: &[(&str, usize)],
    ) -> CircusNode {
        CircusNode::start_inner(name, binding, watchers, |node| {
            template
                .replace("{endpoint}", &node.endpoint)
                .replace("{pubsub_endpoint}", &node.pubsub_endpoint)
                .replace("{stats_endpoint}", &node.stats_endpoint)
        })
    }

    fn start_inner(
        name: &str,
        binding: Binding,
        watchers: &[(&str, usize)],
        ini: impl FnOnce(&CircusNode) -> String,
    ) -> CircusNode {
        let dir = tempfile::Builder::new().prefix(&format!("e2e-node-{name}-")).tempdir().expect("tempdir");
        let tag = procs::tag(name, dir.path());
        let mut node = CircusNode {
            name: name.to_string(),
            endpoint: binding.endpoint,
            pubsub_endpoint: binding.pubsub_endpoint,
            stats_endpoint: binding.stats_endpoint,
            watchers: watchers.iter().map(|(w, n)| (w.to_string(), *n)).collect(),
            dir,
            child: None,
            tag,
        };
        let text = ini(&node).replace("{ini}", &node.ini().display().to_string());
        std::fs::write(node.ini(), text).expect("write circusd ini");
        node.launch();
        node
    }

    /// The node's folder: circusd's working directory, where its watchers run by default.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    fn ini(&self) -> PathBuf {
        self.dir.path().join("circusd.ini")
    }

    /// circusd's log (stdout and stderr).
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("circusd.log")
    }

    fn ini_text(&self, extra: &str) -> String {
        // check_delay: circusd's periodic manage_watchers holds the arbiter lock and makes
        // mutating commands fail now and then; a long delay keeps that rare.
        let mut ini = format!(
            "[circus]\nendpoint = {}\npubsub_endpoint = {}\nstats_endpoint = {}\nstatsd = True\n\
             multicast_endpoint =\ncheck_delay = 10\nwarmup_delay = 0\n",
            self.endpoint, self.pubsub_endpoint, self.stats_endpoint
        );
        for (watcher, n) in &self.watchers {
            // copy_env carries the tag to the processes, so they can be swept even after a kill -9.
            let _ = write!(
                ini,
                "\n[watcher:{watcher}]\ncmd = {WATCHER_CMD}\nnumprocesses = {n}\ncopy_env = True\n\
                 graceful_timeout = 2\n"
            );
        }
        ini.push_str(extra);
        ini
    }

    fn launch(&mut self) {
        let log = File::options().create(true).append(true).open(self.log_path()).expect("circusd log");
        let child = procs::spawn(
            Command::new(paths::venv_bin("circusd"))
                .arg(self.ini())
                .current_dir(self.dir.path())
                .env(procs::TAG_VAR, &self.tag)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log fd"))
                .stderr(log),
        );
        self.child = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let endpoint = self.endpoint.clone();
        let watchers = self.watchers.clone();
        let child = self.child.as_mut().expect("started");
        let log = self.dir.path().join("circusd.log");
        wait_for(&format!("circusd {} to run its watchers", self.name), || {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("circusd exited with {status}:\n{}", std::fs::read_to_string(&log).unwrap_or_default());
            }
            let short = Duration::from_millis(500);
            call(&endpoint, "numwatchers", json!({}), short)?;
            for (watcher, n) in &watchers {
                let reply = call(&endpoint, "list", json!({"name": watcher}), short)?;
                let pids = reply["pids"].as_array().map_or(0, Vec::len);
                if pids != *n {
                    return Err(format!("{watcher} has {pids} of {n} processes"));
                }
            }
            Ok(())
        });
    }

    /// circusd's pid, `None` while stopped.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Crashes the node: SIGKILL to circusd, then its orphans are swept, so the ports go dead.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let orphans = procs::descendants(child.id());
            procs::signal(child.id(), libc::SIGKILL);
            let _ = child.wait();
            procs::sweep(&orphans, &self.tag);
        }
    }

    /// Stops circusd cleanly (SIGTERM, SIGKILL after a grace period) with all its processes.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let orphans = procs::descendants(child.id());
            procs::terminate(&mut child, Duration::from_secs(10));
            procs::sweep(&orphans, &self.tag);
        }
    }

    /// Starts circusd again on the same ports and waits until it is ready.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    /// circusd's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }
}

impl Drop for CircusNode {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("---- circusd {} log ({}) ----\n{}", self.name, self.log_path().display(), self.log());
        }
        self.stop();
        // Anything tagged that outlived circusd (a watcher added at runtime is swept as a
        // descendant above; this catches the configured ones if circusd died first).
        procs::sweep(&[], &self.tag);
    }
}
