//! Why a clusterctl run failed, and the exit status each failure maps to.

use std::io;
use std::time::Duration;

use clusterd_protocol::connection::ConnectionError;

/// Exit statuses, as circusctl's.
pub mod exit {
    /// The command ran and the reply was not an error (or `--json` was given).
    pub const OK: i32 = 0;
    /// Timeout, transport failure or a reply the console cannot print.
    pub const FAILURE: i32 = 1;
    /// Bad command line.
    pub const USAGE: i32 = 2;
    /// The server answered with an error reply.
    pub const ERROR_REPLY: i32 = 3;
    /// The master answered for only some nodes: the others are named on stderr (a merged read
    /// with nodes `missing`, or a change that `failed` on some nodes).
    pub const PARTIAL: i32 = 4;
}

/// A failure before or instead of a printable reply.
#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    /// Bad arguments, or `--help` / `--version` (clap renders both).
    #[error("{0}")]
    Usage(clap::Error),
    /// The request could not be sent or no reply came ([`ConnectionError::Timeout`]).
    #[error("{0}")]
    Transport(ConnectionError),
    /// Nothing answered at `endpoint` within `timeout` (a silent peer, or one that is not a
    /// ZeroMQ ROUTER, such as a stream endpoint given where the command endpoint belongs).
    #[error("no answer from {endpoint} within {}s (is clusterd running there?)", timeout.as_secs_f64())]
    NoAnswer {
        /// Where the request went.
        endpoint: String,
        /// `--timeout`.
        timeout: Duration,
    },
    /// An endpoint that cannot be used: which option, and the fix.
    #[error("{0}")]
    BadEndpoint(String),
    /// The peer answered, but not as a clusterd master (or a circusd) would.
    #[error("{0}")]
    NotMaster(String),
    /// The reply lacks what the console needs.
    #[error("malformed reply: {0}")]
    Malformed(String),
    /// Writing the output failed.
    #[error("{0}")]
    Io(#[from] io::Error),
}

impl CtlError {
    /// The process exit status for this failure: a closed stdout (`| head`) is not a failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            CtlError::Usage(err) => err.exit_code(),
            CtlError::BadEndpoint(_) => exit::USAGE,
            CtlError::Io(err) if err.kind() == io::ErrorKind::BrokenPipe => exit::OK,
            CtlError::Transport(_)
            | CtlError::NoAnswer { .. }
            | CtlError::NotMaster(_)
            | CtlError::Malformed(_)
            | CtlError::Io(_) => exit::FAILURE,
        }
    }
}

impl From<ConnectionError> for CtlError {
    /// Wraps a transport failure (timeouts included).
    fn from(err: ConnectionError) -> Self {
        CtlError::Transport(err)
    }
}
