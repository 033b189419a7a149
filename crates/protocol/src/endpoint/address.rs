//! Where an endpoint's host leads: literal addresses in every spelling the C library reads,
//! "this machine", and name lookups bounded by the caller.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

use super::Endpoint;

/// Looks up the host name of `endpoint` on a blocking thread (the C library's resolver), for
/// at most `timeout`, and gives the endpoint at its first IPv4 address (libzmq's sockets are
/// IPv4 unless told otherwise); an endpoint without a name is given back as it is. The lookup
/// is the caller's to bound: a resolver that never answers leaves its thread waiting for the
/// C library's own timeouts, not the caller.
///
/// # Errors
/// `dns: ...`: no answer in time, no such name, or no IPv4 address.
pub async fn resolve(endpoint: &Endpoint, timeout: Duration) -> Result<Endpoint, String> {
    if !endpoint.needs_lookup() {
        return Ok(endpoint.clone());
    }
    let lookup = tokio::task::spawn_blocking(lookup_blocking(endpoint));
    match tokio::time::timeout(timeout, lookup).await {
        Err(_) => Err(format!("dns: no answer for {} within {}s", host_of(endpoint), timeout.as_secs_f64())),
        Ok(Err(join)) => Err(format!("dns: lookup failed: {join}")),
        Ok(Ok(result)) => result.map(|address| endpoint.at_address(address)),
    }
}

/// The blocking lookup of [`resolve`], to run on a thread of its own: the first IPv4 address
/// of the endpoint's host.
pub fn lookup_blocking(endpoint: &Endpoint) -> impl FnOnce() -> Result<SocketAddr, String> + Send + 'static {
    let (host, port) = (host_of(endpoint).to_string(), endpoint.port().unwrap_or_default());
    move || {
        let addresses = (host.as_str(), port).to_socket_addrs().map_err(|err| format!("dns: {host}: {err}"))?;
        addresses.into_iter().find(SocketAddr::is_ipv4).ok_or_else(|| format!("dns: {host} has no IPv4 address"))
    }
}

fn host_of(endpoint: &Endpoint) -> &str {
    endpoint.host().unwrap_or_default()
}

/// The address a host of a `tcp://` endpoint stands for without asking a resolver, in every
/// spelling the C library (and so libzmq) accepts: dotted IPv4 with 1 to 4 parts in decimal,
/// octal or hex (`127.1`, `0`, `2130706433`, `0x7f.1`), IPv6 with or without brackets (a
/// v4-mapped one, `[::ffff:127.0.0.1]`, gives its IPv4 address), `localhost` and the wildcard
/// `*`. `None` for a host name: only a lookup can tell where it leads.
pub fn literal_ip(host: &str) -> Option<IpAddr> {
    match host {
        "localhost" => return Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        "*" => return Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        _ => {}
    }
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    inet_aton(bare).map(IpAddr::V4)
}

/// True for an address that is this machine whatever interface it names: loopback (all of
/// `127.0.0.0/8`, `::1`) and the wildcards `0.0.0.0`, `::` (connecting to them reaches loopback).
pub fn is_this_machine(ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    ip.is_loopback() || ip.is_unspecified()
}

/// IPv4 as `inet_aton` reads it: `a`, `a.b`, `a.b.c` or `a.b.c.d`, the last part filling the
/// remaining bytes, each part decimal, octal (`0` prefix) or hex (`0x` prefix).
fn inet_aton(text: &str) -> Option<Ipv4Addr> {
    let parts: Vec<u32> = text.split('.').map(aton_part).collect::<Option<_>>()?;
    let (last, leading) = parts.split_last()?;
    if leading.len() > 3 || leading.iter().any(|part| *part > 255) {
        return None;
    }
    let room = 8 * (4 - leading.len() as u32);
    if room < 32 && *last >= 1 << room {
        return None;
    }
    let high = leading.iter().enumerate().fold(0u32, |acc, (i, part)| acc | part << (24 - 8 * i as u32));
    Some(Ipv4Addr::from(high | last))
}

fn aton_part(text: &str) -> Option<u32> {
    let (digits, radix) = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None if text.len() > 1 && text.starts_with('0') => (&text[1..], 8),
        None => (text, 10),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u32::from_str_radix(digits, radix).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn names_resolve_to_an_address_and_literals_stay() {
        let ep = |s: &str| s.parse::<Endpoint>().unwrap();
        assert!(!ep("tcp://127.1:5").needs_lookup() && !ep("ipc:///x").needs_lookup());
        assert!(ep("tcp://node.example:5").needs_lookup());
        let literal = ep("tcp://127.1:5");
        assert_eq!(resolve(&literal, Duration::from_secs(5)).await.unwrap(), literal);
        let at = ep("tcp://node.example:5").at_address("10.0.0.7:5".parse().unwrap());
        assert_eq!((at.as_str(), at.literal_ip()), ("tcp://10.0.0.7:5", Some("10.0.0.7".parse().unwrap())));
    }

    #[test]
    fn literal_addresses_in_every_c_library_spelling() {
        let ip = |text: &str| literal_ip(text).map(|ip| ip.to_string());
        assert_eq!(ip("127.1").as_deref(), Some("127.0.0.1"));
        assert_eq!(ip("127.0.1").as_deref(), Some("127.0.0.1"));
        assert_eq!(ip("2130706433").as_deref(), Some("127.0.0.1"));
        assert_eq!(ip("0177.0.0.01").as_deref(), Some("127.0.0.1"));
        assert_eq!(ip("0").as_deref(), Some("0.0.0.0"));
        assert_eq!(ip("[::ffff:127.0.0.1]").as_deref(), Some("127.0.0.1"));
        assert_eq!(ip("[::1]").as_deref(), Some("::1"));
        for name in ["node.example", "1.2.3.4.5", "256.1.1.1", "4294967296", "09", "1.16777216.1", ""] {
            assert_eq!(literal_ip(name), None, "{name}");
        }
        assert!(is_this_machine("127.9.9.9".parse().unwrap()) && !is_this_machine("10.0.0.1".parse().unwrap()));
    }
}
