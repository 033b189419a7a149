//! Circus error numbers (`circus/commands/errors.py`), sent as `errno` in error replies.

/// An `errno` value of a Circus error reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Errno {
    /// Default, unused by circusd.
    NotSpecified = 0,
    /// The request is not JSON.
    InvalidJson = 1,
    /// The command is not known.
    UnknownCommand = 2,
    /// Validation failed: missing or bad property, unknown watcher or node.
    MessageError = 3,
    /// An OS error.
    OsError = 4,
    /// The command failed while running; clusterd also uses it for a node that timed out or is down.
    CommandError = 5,
    /// A waiting command's future failed.
    BadMsgData = 6,
}

impl Errno {
    /// The number as it goes on the wire.
    pub fn code(self) -> u8 {
        self as u8
    }
}
