//! What a discovery probe learns of one endpoint: is a circusd there, and what are its stats and
//! event endpoints; and the name the node is registered under.

use std::net::IpAddr;
use std::time::Duration;

use clusterd_protocol::connection::{self, Context};
use clusterd_protocol::{Endpoint, Request};
use serde_json::{Map, Value};

/// A circusd that answered a probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Its command endpoint, as probed.
    pub endpoint: Endpoint,
    /// The `stats_endpoint` it reported, wildcard host replaced.
    pub stats_endpoint: Option<Endpoint>,
    /// The `pubsub_endpoint` it reported, wildcard host replaced.
    pub pubsub_endpoint: Option<Endpoint>,
}

/// Why a probed endpoint is not registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Miss {
    /// Nothing answered in time, or the answer was not Circus's (closed port, another service).
    Silent(String),
    /// Something answered, but it is not a plain circusd.
    NotCircusd(String),
}

/// Asks `endpoint` for its `globaloptions`; a circusd answers with its endpoints.
///
/// A peer that also answers `nodelist` is a cluster master (ours, or the 2012 one), not a
/// circusd: it is refused, since merging its merged streams back into ours could loop. A
/// `nodelist` probe that gets no answer in time counts as "not a master".
///
/// # Errors
/// Why the endpoint is no node to register.
pub async fn probe(zmq: &Context, endpoint: Endpoint, timeout: Duration) -> Result<Found, Miss> {
    let ask = |command: &str| {
        let request = Request::new(command, Map::new());
        let endpoint = endpoint.as_str().to_string();
        async move { connection::probe(zmq, &endpoint, &request, timeout).await }
    };
    let reply = ask("globaloptions").await.map_err(|err| Miss::Silent(err.to_string()))?;
    if reply.is_error() {
        return Err(Miss::NotCircusd(format!("globaloptions failed: {}", reply.reason().unwrap_or("no reason"))));
    }
    let Some(options) = reply.0.get("options").and_then(Value::as_object) else {
        return Err(Miss::NotCircusd("no options in its globaloptions reply".into()));
    };
    if is_master(zmq, &endpoint, timeout).await {
        return Err(Miss::NotCircusd("a cluster master (it answers nodelist)".into()));
    }
    let host = endpoint.host().unwrap_or("127.0.0.1").to_string();
    let learn = |key: &str| {
        let text = options.get(key).and_then(Value::as_str)?;
        text.parse::<Endpoint>().ok().map(|reported| resolve_wildcard(&reported, &host))
    };
    let (stats_endpoint, pubsub_endpoint) = (learn("stats_endpoint"), learn("pubsub_endpoint"));
    Ok(Found { endpoint, stats_endpoint, pubsub_endpoint })
}

/// True when `endpoint` answers `nodelist` without an error: a cluster master (ours, or the
/// 2012 one), never a node. Silence within `timeout` (a node that is down, a closed port)
/// counts as "not a master": a circusd answers `nodelist` at once with "unknown command".
pub async fn is_master(zmq: &Context, endpoint: &Endpoint, timeout: Duration) -> bool {
    let request = Request::new("nodelist", Map::new());
    connection::probe(zmq, endpoint.as_str(), &request, timeout).await.is_ok_and(|reply| !reply.is_error())
}

/// `reported` with a wildcard host (`0.0.0.0`, `*`, `[::]`: circusd bound every interface)
/// replaced by `host`, the host the node was reached at; any other endpoint unchanged.
pub fn resolve_wildcard(reported: &Endpoint, host: &str) -> Endpoint {
    match (reported.host(), reported.port()) {
        (Some("0.0.0.0" | "*" | "[::]"), Some(port)) => {
            format!("tcp://{host}:{port}").parse().unwrap_or_else(|_| reported.clone())
        }
        _ => reported.clone(),
    }
}

/// An IP address as it stands in a `tcp://` endpoint (IPv6 in brackets).
pub fn endpoint_host(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(ip) => ip.to_string(),
        IpAddr::V6(ip) => format!("[{ip}]"),
    }
}

/// The name a discovered node is registered under: its host and port, every character that a
/// node name does not allow (`.`, `:`, brackets...) made a `-`: `127.0.0.1:5555` gives
/// `127-0-0-1-5555`, `node-1.example:5555` gives `node-1-example-5555`. A name that would
/// start with `-` (IPv6) gets a `node` prefix, so that it never reads as a command-line option.
pub fn node_name(endpoint: &Endpoint) -> Option<String> {
    let (host, port) = (endpoint.host()?, endpoint.port()?);
    let host: String = host
        .trim_matches(['[', ']'])
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '-' })
        .collect();
    let name = format!("{host}-{port}");
    Some(if name.starts_with(|c: char| c.is_ascii_alphanumeric()) { name } else { format!("node{name}") })
}

#[cfg(test)]
mod tests {
    use clusterd_protocol::names::validate_node_name;

    use super::*;

    fn ep(text: &str) -> Endpoint {
        text.parse().expect("endpoint")
    }

    #[test]
    fn names_are_host_and_port_without_dots_or_colons() {
        let name = |text: &str| node_name(&ep(text)).expect("tcp endpoint");
        assert_eq!(name("tcp://127.0.0.1:5555"), "127-0-0-1-5555");
        assert_eq!(name("tcp://node-1.example:6555"), "node-1-example-6555");
        assert_eq!(name("tcp://web_2:5555"), "web_2-5555");
        assert_eq!(name("tcp://[::1]:5555"), "node--1-5555");
        assert_eq!(name("tcp://[fe80::1]:5555"), "fe80--1-5555");
        for text in ["tcp://127.0.0.1:5555", "tcp://[::1]:5555", "tcp://a.b.c:1", "tcp://*:7"] {
            let name = name(text);
            assert!(validate_node_name(&name).is_ok(), "{text} gave {name}");
        }
        assert_eq!(node_name(&ep("ipc:///tmp/circus.sock")), None);
    }

    #[test]
    fn wildcard_hosts_become_the_probed_host() {
        assert_eq!(resolve_wildcard(&ep("tcp://0.0.0.0:5556"), "10.0.0.7"), ep("tcp://10.0.0.7:5556"));
        assert_eq!(resolve_wildcard(&ep("tcp://*:5557"), "10.0.0.7"), ep("tcp://10.0.0.7:5557"));
        assert_eq!(resolve_wildcard(&ep("tcp://[::]:5557"), "[fe80::1]"), ep("tcp://[fe80::1]:5557"));
        assert_eq!(resolve_wildcard(&ep("tcp://127.0.0.1:5556"), "10.0.0.7"), ep("tcp://127.0.0.1:5556"));
        assert_eq!(resolve_wildcard(&ep("ipc:///tmp/x"), "10.0.0.7"), ep("ipc:///tmp/x"));
    }

    #[test]
    fn hosts_of_ip_addresses() {
        assert_eq!(endpoint_host("127.0.0.1".parse().unwrap()), "127.0.0.1");
        assert_eq!(endpoint_host("::1".parse().unwrap()), "[::1]");
    }
}
