//! The Circus wire protocol as clusterd speaks it.
//!
//! * [`message`]: decoding requests and building replies (JSON, Circus key order);
//! * [`errno`]: Circus's error numbers;
//! * [`endpoint`]: parsing and checking ZeroMQ endpoints;
//! * [`nodeset`]: node-set expressions (`all!second`, `node[1-20]`, `@eu&web*`) naming nodes;
//! * [`pyjson`]: JSON encoded exactly as Python's `json.dumps` does;
//! * [`secret`]: a shared secret kept out of logs and compared in constant time;
//! * [`connection`]: every ZeroMQ socket the project opens, async (for the daemon) and blocking
//!   (for the CLI). Nothing outside that module touches the `zmq` crate, so the engine can be
//!   swapped in one place.
//!
//! See `docs/protocol.md` for the protocol itself.

pub mod connection;
pub mod endpoint;
pub mod errno;
pub mod message;
pub mod names;
pub mod nodeset;
pub mod pyjson;
pub mod secret;

pub use endpoint::Endpoint;
pub use errno::Errno;
pub use message::{Reply, Request};

/// Default command endpoint of the master (the 2012 circusd-cluster's `DEFAULT_CLUSTER_DEALER`).
pub const DEFAULT_MASTER_ENDPOINT: &str = "tcp://127.0.0.1:5558";

/// A boolean as Circus reads one from text (`circus.util.to_bool`): `yes`, `true`, `on`, `1` and
/// `no`, `false`, `off`, `0`, in any case; `None` for anything else.
pub fn circus_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" | "1" => Some(true),
        "no" | "false" | "off" | "0" => Some(false),
        _ => None,
    }
}
