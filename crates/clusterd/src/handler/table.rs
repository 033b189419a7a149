//! The command table: every command the master knows, declared once with its properties. The
//! dispatcher ([`super::handle`]), the routing of names ([`super::route`]), merging
//! ([`super::fanout`]), the read-only endpoint and the audit trail ([`crate::access`]) and the
//! per-command counts of `/metrics` ([`crate::access::tally`]) all read it.
//!
//! A command not in the table is still forwarded when the request names a node (circusd may
//! know it); it is then treated as changing something (audited, refused on the read-only door)
//! and counted as `other`.

/// Declares [`Own`] and its list of every variant together, so that neither can grow without
/// the other (the dispatcher's `match` on [`Own`] is exhaustive, and the unit test below checks
/// that every variant has its row).
macro_rules! own_commands {
    ($($(#[$doc:meta])* $variant:ident,)*) => {
        /// The commands the master answers with a handler of its own.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Own {
            $($(#[$doc])* $variant,)*
        }

        impl Own {
            /// Every handler of the master's own.
            #[cfg(test)]
            pub const ALL: &'static [Own] = &[$(Own::$variant,)*];
        }
    };
}

own_commands! {
    /// `register_node` ([`super::cluster`]).
    RegisterNode,
    /// `unregister_node`.
    UnregisterNode,
    /// `nodes`: the registry with each node's health.
    Nodes,
    /// `nodelist`: node names only.
    Nodelist,
    /// `nodeset`: what a node-set expression selects.
    Nodeset,
    /// `logs`: watcher output history from the nodes' log agents ([`crate::logs`]).
    Logs,
    /// `placements`: the placed watchers and drained nodes ([`crate::placement`]).
    Placements,
    /// `drain`: a node made unschedulable, its placed copies moved.
    Drain,
    /// `undrain`: a drained node takes placed copies again.
    Undrain,
    /// `globaloptions`: the master's own endpoints ([`super::local`]).
    Globaloptions,
    /// `dstats`: the master's process and its counters.
    Dstats,
    /// `quit`: stops the master.
    Quit,
    /// `reloadconfig`: the master's own configuration.
    Reloadconfig,
    /// `listen`: refused, as circusd does on its command socket.
    Listen,
    /// `ipython`: refused without a node.
    Ipython,
}

/// Who answers a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answered {
    /// The master, whatever `properties.node` says (the registry commands).
    Master(Own),
    /// The master, unless `properties.node` names a node, which then gets the request.
    MasterUnlessNode(Own),
    /// The nodes: routed by `properties.node` or the watcher name ([`super::route`]).
    Nodes,
}

/// What a request without a name that goes to every node comes back as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merged {
    /// Not sent to every node: without a name it is refused (or needs `properties.node`).
    No,
    /// A read merged over the `node:watcher` namespace; nodes that gave no answer may be left
    /// out (`merged_reads`, [`super::partial`]).
    Read,
    /// A change on every node, reported per node ([`super::changes`]).
    Change,
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct Command {
    /// As it arrives (decoded requests have lower-case commands).
    pub name: &'static str,
    /// Who answers it.
    pub answered: Answered,
    /// Changes nothing, on circusd (circus-protocol.md §3, "mutates: no") or on the master:
    /// allowed on `readonly_endpoint`, not audited.
    pub read_only: bool,
    /// Without a name: sent to every node and merged, or not.
    pub merged: Merged,
    /// `name` is a pattern (`match`: glob by default) in circusd; a pattern or an unqualified
    /// name goes to every node, reported per node.
    pub pattern: bool,
    /// circusd refuses it without a `name`; the master says so without asking a node.
    pub name_required: bool,
    /// Must carry `register_secret` as `secret` when it is set ([`crate::access::secret`]).
    pub needs_secret: bool,
}

impl Command {
    /// Emits an audit event: every command that changes something.
    pub fn audited(&self) -> bool {
        !self.read_only
    }
}

/// The defaults of a row: a change answered by the nodes.
const CHANGE: Command = Command {
    name: "",
    answered: Answered::Nodes,
    read_only: false,
    merged: Merged::No,
    pattern: false,
    name_required: false,
    needs_secret: false,
};
/// The defaults of a read answered by the nodes.
const READ: Command = Command { read_only: true, ..CHANGE };

/// Every command. The read-only ones come first, in the order the read-only endpoint lists
/// them in its refusals.
pub const COMMANDS: &[Command] = &[
    Command { name: "status", merged: Merged::Read, ..READ },
    Command { name: "list", merged: Merged::Read, ..READ },
    Command { name: "stats", merged: Merged::Read, ..READ },
    Command { name: "numprocesses", merged: Merged::Read, ..READ },
    Command { name: "numwatchers", merged: Merged::Read, ..READ },
    Command { name: "get", name_required: true, ..READ },
    Command { name: "options", name_required: true, ..READ },
    Command { name: "globaloptions", answered: Answered::MasterUnlessNode(Own::Globaloptions), ..READ },
    Command { name: "dstats", answered: Answered::MasterUnlessNode(Own::Dstats), ..READ },
    Command { name: "listsockets", merged: Merged::Read, ..READ },
    Command { name: "nodes", answered: Answered::Master(Own::Nodes), ..READ },
    Command { name: "nodelist", answered: Answered::Master(Own::Nodelist), ..READ },
    Command { name: "logs", answered: Answered::Master(Own::Logs), ..READ },
    Command { name: "nodeset", answered: Answered::Master(Own::Nodeset), ..READ },
    Command { name: "placements", answered: Answered::Master(Own::Placements), ..READ },
    Command { name: "start", merged: Merged::Change, pattern: true, ..CHANGE },
    Command { name: "stop", merged: Merged::Change, pattern: true, ..CHANGE },
    Command { name: "restart", merged: Merged::Change, pattern: true, ..CHANGE },
    Command { name: "reload", merged: Merged::Change, ..CHANGE },
    Command { name: "add", name_required: true, ..CHANGE },
    Command { name: "rm", name_required: true, ..CHANGE },
    Command { name: "set", name_required: true, ..CHANGE },
    Command { name: "incr", name_required: true, ..CHANGE },
    Command { name: "decr", name_required: true, ..CHANGE },
    Command { name: "signal", name_required: true, ..CHANGE },
    Command { name: "kill", name_required: true, ..CHANGE },
    Command { name: "register_node", answered: Answered::Master(Own::RegisterNode), needs_secret: true, ..CHANGE },
    Command { name: "unregister_node", answered: Answered::Master(Own::UnregisterNode), needs_secret: true, ..CHANGE },
    // `properties.node` is the node to drain, not where to send the request.
    Command { name: "drain", answered: Answered::Master(Own::Drain), ..CHANGE },
    Command { name: "undrain", answered: Answered::Master(Own::Undrain), ..CHANGE },
    Command { name: "quit", answered: Answered::MasterUnlessNode(Own::Quit), ..CHANGE },
    Command { name: "reloadconfig", answered: Answered::MasterUnlessNode(Own::Reloadconfig), ..CHANGE },
    Command { name: "listen", answered: Answered::MasterUnlessNode(Own::Listen), ..CHANGE },
    // Starts a kernel on the node: a change.
    Command { name: "ipython", answered: Answered::MasterUnlessNode(Own::Ipython), ..CHANGE },
];

/// The row of `command`; `None` for a command the master does not know.
pub fn find(command: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|row| row.name == command)
}

/// True when `command` changes nothing (an unknown command is taken to change something).
pub fn is_read_only(command: &str) -> bool {
    find(command).is_some_and(|row| row.read_only)
}

/// True when `command` is audited (unknown commands are).
pub fn is_audited(command: &str) -> bool {
    find(command).is_none_or(Command::audited)
}

/// The read-only commands, in table order.
pub fn read_only_names() -> impl Iterator<Item = &'static str> {
    COMMANDS.iter().filter(|row| row.read_only).map(|row| row.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own(row: &Command) -> Option<Own> {
        match row.answered {
            Answered::Master(own) | Answered::MasterUnlessNode(own) => Some(own),
            Answered::Nodes => None,
        }
    }

    #[test]
    fn every_handler_of_the_master_has_exactly_one_row() {
        for handler in Own::ALL {
            let rows: Vec<&str> =
                COMMANDS.iter().filter(|row| own(row) == Some(*handler)).map(|row| row.name).collect();
            assert_eq!(rows.len(), 1, "{handler:?} must have exactly one row in COMMANDS, has {rows:?}");
        }
    }

    #[test]
    fn every_command_is_declared_once_in_lower_case() {
        for (i, row) in COMMANDS.iter().enumerate() {
            assert_eq!(row.name, row.name.to_lowercase(), "requests are decoded lower-case");
            assert!(COMMANDS[..i].iter().all(|earlier| earlier.name != row.name), "{} twice", row.name);
        }
    }

    #[test]
    fn properties_that_go_together_do() {
        for row in COMMANDS {
            // Patterns go to every node and come back merged or per node.
            assert!(!row.pattern || row.merged == Merged::Change, "{}", row.name);
            // Reads merged by the master are answered by the nodes.
            assert!(row.merged == Merged::No || row.answered == Answered::Nodes, "{}", row.name);
            // A command without a name cannot be merged and refused for lacking one.
            assert!(!(row.name_required && row.merged != Merged::No), "{}", row.name);
            // The secret guards the registry, which only the master changes.
            assert!(!row.needs_secret || matches!(row.answered, Answered::Master(_)), "{}", row.name);
        }
    }

    #[test]
    fn unknown_commands_change_something() {
        assert!(find("bogus").is_none());
        assert!(!is_read_only("bogus") && is_audited("bogus"));
        assert!(is_read_only("status") && !is_audited("status"));
        assert!(!is_read_only("incr") && is_audited("incr"));
    }
}
