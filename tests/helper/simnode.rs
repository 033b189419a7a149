//! Simulated circusd nodes (the workspace's `simnode` binary), for scale and soak tests only:
//! everything about Circus itself is tested against real circusd.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::{paths, ports, procs, Master, TIMEOUT};

/// One simulated node, as the simnode process printed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimNode {
    /// Node name (`sim001`).
    pub name: String,
    /// Command endpoint.
    pub endpoint: String,
    /// Event stream.
    pub pubsub_endpoint: String,
    /// Stats stream.
    pub stats_endpoint: String,
}

/// A simnode process hosting several nodes, killed on drop.
pub struct SimNodes {
    /// Its nodes, in order.
    pub nodes: Vec<SimNode>,
    child: Option<Child>,
    /// The ports its nodes bind, held until the process is gone (declared after `child`, so
    /// dropped after the process is stopped).
    _ports: Option<ports::Block>,
}

impl SimNodes {
    /// Starts `simnode --nodes COUNT ARGS...` and waits until every node is bound.
    ///
    /// # Panics
    /// When simnode fails to start or to print its nodes within [`TIMEOUT`].
    pub fn start(count: usize, args: &[&str]) -> SimNodes {
        let dir = std::env::temp_dir();
        // Ports below the kernel's ephemeral range (see `ports`): simnode's default, port 0, is
        // in it, where a reconnecting socket of the master's may take a restarting node's port
        // as its source port and keep it, so the node can never bind it again.
        let block = if args.contains(&"--base-port") {
            None
        } else {
            // A long process that took most of the range (the bench) falls back to the kernel's.
            let block = ports::free_block(3 * count);
            if block.is_none() {
                eprintln!(
                    "simnode: no {} consecutive free ports below the ephemeral range: the kernel picks",
                    3 * count
                );
            }
            block
        };
        let mut command = Command::new(paths::workspace_bin("simnode"));
        command.arg("--nodes").arg(count.to_string()).args(args);
        if let Some(block) = &block {
            command.arg("--base-port").arg(block.start.to_string());
        }
        let mut child = procs::spawn(
            command
                .env(procs::TAG_VAR, procs::tag("simnode", &dir))
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit()),
        );
        let stdout = child.stdout.take().expect("piped stdout");
        let (lines, received) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let mut nodes = Vec::with_capacity(count);
        while nodes.len() < count {
            let line = received
                .recv_timeout(TIMEOUT)
                .unwrap_or_else(|_| panic!("simnode printed {} of {count} nodes in {TIMEOUT:?}", nodes.len()));
            let entry: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("simnode line {line:?}: {e}"));
            let field = |key: &str| entry[key].as_str().unwrap_or_else(|| panic!("no {key} in {line}")).to_string();
            nodes.push(SimNode {
                name: field("name"),
                endpoint: field("endpoint"),
                pubsub_endpoint: field("pubsub_endpoint"),
                stats_endpoint: field("stats_endpoint"),
            });
        }
        SimNodes { nodes, child: Some(child), _ports: block }
    }

    /// The simnode process's pid.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `[node.NAME]` sections for a clusterd TOML config.
    pub fn config_sections(&self) -> String {
        self.nodes
            .iter()
            .map(|n| {
                format!(
                    "\n[node.{}]\nendpoint = \"{}\"\npubsub_endpoint = \"{}\"\nstats_endpoint = \"{}\"\n",
                    n.name, n.endpoint, n.pubsub_endpoint, n.stats_endpoint
                )
            })
            .collect()
    }

    /// Registers every node with `master` (`register_node`), panicking on an error reply.
    pub fn register_all(&self, master: &Master) {
        register(master, &self.nodes);
    }

    /// Kills the process with SIGKILL: every node it hosts goes away at once.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Registers `nodes` with `master` (`register_node`), panicking on an error reply.
pub fn register(master: &Master, nodes: &[SimNode]) {
    let client = master.client(Duration::from_secs(10));
    for node in nodes {
        let properties = json!({
            "name": node.name,
            "endpoint": node.endpoint,
            "pubsub_endpoint": node.pubsub_endpoint,
            "stats_endpoint": node.stats_endpoint,
        });
        let Value::Object(properties) = properties else { unreachable!("an object literal") };
        let reply = client
            .call(&crate::Request::new("register_node", properties))
            .unwrap_or_else(|e| panic!("register_node {}: {e}", node.name));
        assert!(!reply.is_error(), "register_node {}: {:?}", node.name, reply.0);
    }
}

impl Drop for SimNodes {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            procs::terminate(child, Duration::from_secs(2));
        }
    }
}
