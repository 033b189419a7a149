//! `readonly_endpoint`: a second ROUTER, served by the same dispatcher, that answers only the
//! commands that change nothing, so that it can be handed to dashboards and monitoring.
//!
//! The policy is on the command name alone: a command reads or writes the same way whether it
//! names one watcher, `first:dummy`, or a node set in `properties.node`, because the master only
//! ever forwards the command it was given.

use std::sync::Arc;

use clusterd_protocol::connection::{CommandServer, ConnectionError, Context};
use clusterd_protocol::{Errno, Reply, Request};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{error, info};

use super::Door;
use crate::server::InFlight;
use crate::Ctx;

/// Commands that change nothing, on circusd (circus-protocol.md §3, "mutates: no") or on the
/// master. `listsockets` is not in the list but only lists sockets; `ipython` starts a
/// kernel and is left out.
pub const READ_ONLY_COMMANDS: &[&str] = &[
    "status",
    "list",
    "stats",
    "numprocesses",
    "numwatchers",
    "get",
    "options",
    "globaloptions",
    "dstats",
    "listsockets",
    "nodes",
    "nodelist",
    "nodeset",
    "placements",
];

/// True when `command` (lower-cased, as decoded) changes nothing.
pub fn is_read_only(command: &str) -> bool {
    READ_ONLY_COMMANDS.contains(&command)
}

/// Whether `door` lets `request` through.
///
/// # Errors
/// An errno 3 reply naming the command and the allowed ones.
pub fn admit(door: Door, request: &Request) -> Result<(), Reply> {
    // The HTTP API has its own switch (`http_readonly`), checked before the dispatcher.
    if door != Door::Readonly || is_read_only(&request.command) {
        return Ok(());
    }
    let reason = format!(
        "command \"{}\" is not allowed on the read-only endpoint (allowed: {})",
        request.command,
        READ_ONLY_COMMANDS.join(", ")
    );
    Err(Reply::error(Errno::MessageError, &reason, Value::Null))
}

/// The read-only endpoint's task; dropping this stops it and closes its socket.
pub struct Served(JoinHandle<()>);

impl Drop for Served {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Binds `readonly_endpoint` when the settings have one and serves it until the returned guard
/// is dropped.
///
/// # Errors
/// The endpoint cannot be bound.
pub fn start(zmq: &Context, ctx: &Arc<Ctx>) -> Result<Option<Served>, ConnectionError> {
    let Some(endpoint) = ctx.settings().readonly_endpoint.clone() else {
        return Ok(None);
    };
    let mut server = CommandServer::bind(zmq, endpoint.as_str())?;
    info!(%endpoint, "read-only endpoint ready");
    let ctx = ctx.clone();
    let task = tokio::spawn(async move {
        let (done_tx, mut done) = mpsc::unbounded_channel();
        // The same framing, limits and counters as the command endpoint; its own in-flight table.
        let mut requests = InFlight::new(ctx, done_tx, Door::Readonly);
        loop {
            tokio::select! {
                frames = server.recv() => match frames {
                    Ok(frames) => requests.dispatch(&server, frames, true),
                    Err(err) => {
                        error!(cause = %err, "read-only endpoint receive failed");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                },
                // Never `quit` here: it is not a read-only command.
                Some(finished) = done.recv() => requests.finish(&server, &finished),
            }
        }
    });
    Ok(Some(Served(task)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    #[test]
    fn only_commands_that_change_nothing_pass() {
        let request = |command: &str| Request::new(command, Map::new());
        for command in ["status", "list", "nodes", "nodelist", "nodeset", "dstats", "STATS"] {
            assert!(admit(Door::Readonly, &request(command)).is_ok(), "{command}");
        }
        for command in ["incr", "add", "quit", "register_node", "unregister_node", "reloadconfig", "ipython", "bogus"] {
            let reply = admit(Door::Readonly, &request(command)).unwrap_err();
            assert_eq!(reply.errno(), Some(3));
            let reason = reply.reason().unwrap();
            assert!(reason.starts_with(&format!("command \"{command}\" is not allowed on the read-only endpoint")));
            assert!(reason.contains("(allowed: status, list,"), "{reason}");
            assert!(admit(Door::Command, &request(command)).is_ok(), "{command}");
        }
    }
}
