//! What `readonly_endpoint` allows: only the commands that change nothing, so that it can be
//! handed to dashboards and monitoring. Its loop is [`crate::server::readonly`].
//!
//! The policy is on the command name alone (the command table's `read_only`): a command reads or writes the same way whether it
//! names one watcher, `first:dummy`, or a node set in `properties.node`, because the master only
//! ever forwards the command it was given.

use clusterd_protocol::{Errno, Reply, Request};
use serde_json::Value;

use super::Door;
use crate::handler::table::{is_read_only, read_only_names};

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
        read_only_names().collect::<Vec<_>>().join(", ")
    );
    Err(Reply::error(Errno::MessageError, &reason, Value::Null))
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
