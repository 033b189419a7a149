//! Circus's own UDP discovery (circus-protocol.md §1.5), as circus-web's `AutoDiscoveryThread`
//! does it: one datagram `""` to the group (or any address) and port of the nodes'
//! `multicast_endpoint`; every circusd listening there answers from that port with
//! `{"endpoint": "<its command endpoint>"}`, `0.0.0.0` standing for the address it answered from.
//!
//! UDP has no authentication: an answer is only as trustworthy as the network it came over
//! (docs/security.md). What is checked is what can be: an answer must come from the queried port
//! (circusd answers from the socket the query reached), and for a unicast query from the queried
//! address too; anything else (a datagram from another socket that learnt the query's port) is
//! ignored. The query socket binds loopback unless `allow_remote = true`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use clusterd_protocol::Endpoint;
use serde_json::Value;
use tokio::net::UdpSocket;
use tracing::debug;

use super::node::{endpoint_host, resolve_wildcard};

/// What is sent: circusd ignores the content; circus-web sends these two bytes.
const QUERY: &[u8] = b"\"\"";

/// circusd answers datagrams of up to 1024 bytes; an answer is one short JSON object.
const MAX_ANSWER: usize = 4096;

/// Sends the query to `address:port` from an ephemeral socket (on loopback unless
/// `allow_remote`) and collects, for `wait`, the command endpoints answered (deduplicated, in
/// arrival order). Answers that do not come from the queried port (and, for a unicast query,
/// address: [`answers_the_query`]) or are not `{"endpoint": "tcp://..."}` are logged and skipped.
///
/// For a multicast group, the TTL is 1: the query stays on the local network segment (an
/// IPv6 socket's multicast hop limit is 1 by default).
///
/// # Errors
/// The address does not resolve, or the socket cannot be made or cannot send.
pub async fn query(address: &str, port: u16, wait: Duration, allow_remote: bool) -> Result<Vec<Endpoint>, String> {
    let target = tokio::net::lookup_host((address, port))
        .await
        .map_err(|err| format!("cannot resolve {address}: {err}"))?
        .next()
        .ok_or_else(|| format!("{address} resolves to no address"))?;
    let local: SocketAddr = match (target, allow_remote) {
        (SocketAddr::V4(_), true) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        (SocketAddr::V6(_), true) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        (SocketAddr::V4(_), false) => (Ipv4Addr::LOCALHOST, 0).into(),
        (SocketAddr::V6(_), false) => (Ipv6Addr::LOCALHOST, 0).into(),
    };
    if !allow_remote && !target.ip().is_loopback() {
        return Err(format!(
            "{target} is not a loopback address: querying it needs allow_remote = true (the query \
             socket binds loopback otherwise, see docs/security.md)"
        ));
    }
    let socket = UdpSocket::bind(local).await.map_err(|err| format!("udp socket: {err}"))?;
    if let IpAddr::V4(group) = target.ip() {
        if group.is_multicast() {
            socket.set_multicast_ttl_v4(1).map_err(|err| format!("multicast ttl: {err}"))?;
        }
    }
    socket.send_to(QUERY, target).await.map_err(|err| format!("send to {target}: {err}"))?;
    let deadline = tokio::time::Instant::now() + wait;
    let mut found: Vec<Endpoint> = Vec::new();
    let mut buffer = vec![0u8; MAX_ANSWER];
    loop {
        let (len, from) = match tokio::time::timeout_at(deadline, socket.recv_from(&mut buffer)).await {
            Err(_elapsed) => break,
            Ok(Ok(received)) => received,
            Ok(Err(err)) => {
                debug!(%target, cause = %err, "udp discovery receive failed");
                continue;
            }
        };
        if !answers_the_query(from, target) {
            debug!(%from, %target, "ignored a udp datagram that does not come from the queried socket");
            continue;
        }
        match parse_answer(&buffer[..len], from.ip()) {
            Ok(endpoint) if !found.contains(&endpoint) => found.push(endpoint),
            Ok(_) => {}
            Err(reason) => debug!(%from, reason, "ignored a udp discovery answer"),
        }
    }
    Ok(found)
}

/// True when a datagram from `from` can be an answer to a query sent to `target`: from the
/// queried port, and for a unicast query from the queried address (a multicast group is answered
/// by each member from its own address).
pub fn answers_the_query(from: SocketAddr, target: SocketAddr) -> bool {
    let (from_ip, target_ip) = (from.ip().to_canonical(), target.ip().to_canonical());
    from.port() == target.port() && (target_ip.is_multicast() || from_ip == target_ip)
}

/// Reads one answer, `{"endpoint": "tcp://HOST:PORT"}`, received from `from`; a wildcard host
/// (`0.0.0.0`, `*`) means the address that answered.
///
/// # Errors
/// Why the answer names no usable endpoint.
pub fn parse_answer(bytes: &[u8], from: IpAddr) -> Result<Endpoint, String> {
    let value: Value = serde_json::from_slice(bytes).map_err(|err| format!("not JSON: {err}"))?;
    let text = value.get("endpoint").and_then(Value::as_str).ok_or("no \"endpoint\" string in the answer")?;
    let endpoint: Endpoint = text.parse()?;
    if endpoint.port().is_none() {
        return Err(format!("{endpoint} is not a tcp:// endpoint"));
    }
    Ok(resolve_wildcard(&endpoint, &endpoint_host(from)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from() -> IpAddr {
        "192.168.1.20".parse().unwrap()
    }

    #[test]
    fn answers_name_an_endpoint() {
        let parse = |text: &str| parse_answer(text.as_bytes(), from()).map(|e| e.to_string());
        assert_eq!(parse(r#"{"endpoint": "tcp://127.0.0.1:7510"}"#).unwrap(), "tcp://127.0.0.1:7510");
        assert_eq!(parse(r#"{"endpoint": "tcp://0.0.0.0:5555"}"#).unwrap(), "tcp://192.168.1.20:5555");
        assert_eq!(parse(r#"{"endpoint": "tcp://*:5555"}"#).unwrap(), "tcp://192.168.1.20:5555");
        let v6 = parse_answer(br#"{"endpoint": "tcp://0.0.0.0:5555"}"#, "fe80::1".parse().unwrap()).unwrap();
        assert_eq!(v6.to_string(), "tcp://[fe80::1]:5555");
        for bad in [
            "",
            "\"\"",
            "not json",
            "{}",
            r#"{"endpoint": 5}"#,
            r#"{"endpoint": "ipc:///x"}"#,
            r#"{"endpoint": "udp://h:1"}"#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    /// A fake responder on loopback, unicast, as circusd answers: from its bound port, one
    /// good answer with a wildcard host, a bad one and a duplicate.
    #[tokio::test]
    async fn query_collects_the_answers_of_a_unicast_responder() {
        let responder = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = responder.local_addr().unwrap().port();
        let answering = std::thread::spawn(move || {
            let mut buffer = [0u8; 1024];
            let (len, peer) = responder.recv_from(&mut buffer).unwrap();
            for answer in
                [&br#"{"endpoint": "tcp://0.0.0.0:7510"}"#[..], b"garbage", br#"{"endpoint": "tcp://0.0.0.0:7510"}"#]
            {
                responder.send_to(answer, peer).unwrap();
            }
            buffer[..len].to_vec()
        });
        let found = query("127.0.0.1", port, Duration::from_millis(500), false).await.unwrap();
        assert_eq!(answering.join().unwrap(), QUERY);
        assert_eq!(found, vec!["tcp://127.0.0.1:7510".parse::<Endpoint>().unwrap()]);
    }

    #[tokio::test]
    async fn query_without_responder_finds_nothing() {
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = silent.local_addr().unwrap().port();
        assert_eq!(query("127.0.0.1", port, Duration::from_millis(200), false).await.unwrap(), vec![]);
    }

    #[test]
    fn only_the_queried_socket_answers() {
        let at = |text: &str| text.parse::<SocketAddr>().unwrap();
        assert!(answers_the_query(at("127.0.0.1:7000"), at("127.0.0.1:7000")));
        assert!(!answers_the_query(at("127.0.0.1:7001"), at("127.0.0.1:7000")), "another port");
        assert!(!answers_the_query(at("127.0.0.2:7000"), at("127.0.0.1:7000")), "another address");
        assert!(answers_the_query(at("10.0.0.9:12027"), at("237.219.251.97:12027")), "a group member");
        assert!(!answers_the_query(at("10.0.0.9:40000"), at("237.219.251.97:12027")));
    }

    #[tokio::test]
    async fn a_remote_target_needs_allow_remote() {
        let refused = query("10.255.255.1", 12027, Duration::from_millis(10), false).await.unwrap_err();
        assert!(refused.contains("allow_remote = true"), "{refused}");
    }
}
