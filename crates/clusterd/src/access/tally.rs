//! Requests handled by the dispatcher, by command and outcome, for `/metrics`.
//!
//! Clients choose command names freely; counting every name would let one client grow the
//! master (and every Prometheus server scraping it) without bound, so names outside
//! [`KNOWN_COMMANDS`] are counted as `other`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use clusterd_protocol::Reply;

/// Commands counted under their own name: circusd's and the master's.
pub const KNOWN_COMMANDS: &[&str] = &[
    "add",
    "decr",
    "dstats",
    "get",
    "globaloptions",
    "incr",
    "ipython",
    "list",
    "listen",
    "listsockets",
    "logs",
    "nodelist",
    "nodes",
    "nodeset",
    "numprocesses",
    "numwatchers",
    "options",
    "quit",
    "register_node",
    "reload",
    "reloadconfig",
    "restart",
    "rm",
    "set",
    "signal",
    "start",
    "stats",
    "status",
    "stop",
    "unregister_node",
];

/// Counts of `(command, outcome)`; outcome is `ok` or `error`.
#[derive(Debug, Default)]
pub struct CommandTally(Mutex<BTreeMap<(&'static str, &'static str), u64>>);

impl CommandTally {
    /// Counts one answered request.
    pub fn count(&self, command: &str, reply: &Reply) {
        let command = KNOWN_COMMANDS.iter().find(|known| **known == command).copied().unwrap_or("other");
        let outcome = if reply.is_error() { "error" } else { "ok" };
        *self.0.lock().expect("tally lock").entry((command, outcome)).or_default() += 1;
    }

    /// Every count so far.
    pub fn counts(&self) -> Vec<((&'static str, &'static str), u64)> {
        self.0.lock().expect("tally lock").iter().map(|(k, v)| (*k, *v)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, Value};

    #[test]
    fn unknown_commands_share_one_series() {
        let tally = CommandTally::default();
        tally.count("status", &Reply::ok(Map::new(), Value::Null));
        tally.count("status", &Reply::ok(Map::new(), Value::Null));
        tally.count("made-up-1", &Reply::error(clusterd_protocol::Errno::MessageError, "no", Value::Null));
        tally.count("made-up-2", &Reply::error(clusterd_protocol::Errno::MessageError, "no", Value::Null));
        assert_eq!(tally.counts(), [(("other", "error"), 2), (("status", "ok"), 2)]);
    }
}
