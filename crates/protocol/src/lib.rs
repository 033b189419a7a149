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

use serde_json::Value;

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

/// A request whose properties are the given `json!({...})` object, in insertion order; anything
/// but an object gives `{}`. The one builder the CLI and the benchmarks share.
pub fn request(command: &str, properties: Value) -> Request {
    let properties = match properties {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    Request::new(command, properties)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::request;

    #[test]
    fn request_keeps_the_object_in_order_and_drops_anything_else() {
        let built = request("Status", json!({"name": "web", "node": "a"}));
        assert_eq!(built.command, "status");
        assert_eq!(built.properties.keys().collect::<Vec<_>>(), ["name", "node"]);
        assert!(request("list", json!([1, 2])).properties.is_empty());
    }
}
