//! ZeroMQ endpoints as Circus configures them: `tcp://host:port` or `ipc://path`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::str::FromStr;
use std::time::Duration;

use crate::names::escape_controls;

/// The longest endpoint, in bytes: far above any host name (253) or `ipc://` path (107 on
/// Linux), far below what would make every `nodes` reply large.
pub const MAX_ENDPOINT_LEN: usize = 1024;

/// A checked ZeroMQ endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    text: String,
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Kind {
    Tcp { host: String, port: u16 },
    Ipc,
}

impl Endpoint {
    /// The endpoint as ZeroMQ takes it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The TCP port, `None` for `ipc://`.
    pub fn port(&self) -> Option<u16> {
        match &self.kind {
            Kind::Tcp { port, .. } => Some(*port),
            Kind::Ipc => None,
        }
    }

    /// The TCP host, `None` for `ipc://`.
    pub fn host(&self) -> Option<&str> {
        match &self.kind {
            Kind::Tcp { host, .. } => Some(host),
            Kind::Ipc => None,
        }
    }

    /// True for `ipc://` endpoints and TCP on a loopback address or `localhost`: reachable only
    /// from this machine.
    pub fn is_local(&self) -> bool {
        match &self.kind {
            Kind::Ipc => true,
            Kind::Tcp { host, .. } => {
                host == "localhost" || host.trim_matches(['[', ']']).parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
            }
        }
    }
}

impl Endpoint {
    /// True when both endpoints reach the same socket on this machine: the same text, or TCP on
    /// the same port with the same address, or with both hosts this machine (every loopback
    /// spelling, `localhost`, the wildcards `*`, `0`, `0.0.0.0`, `[::]`, v4-mapped IPv6): see
    /// [`literal_ip`].
    pub fn same_place(&self, other: &Endpoint) -> bool {
        if self.text == other.text {
            return true;
        }
        if self.port().is_none() || self.port() != other.port() {
            return false;
        }
        let (mine, theirs) = (self.host().and_then(literal_ip), other.host().and_then(literal_ip));
        match (mine, theirs) {
            (Some(mine), Some(theirs)) => mine == theirs || (is_this_machine(mine) && is_this_machine(theirs)),
            _ => false,
        }
    }

    /// The address of a TCP endpoint whose host needs no name lookup ([`literal_ip`]).
    pub fn literal_ip(&self) -> Option<IpAddr> {
        self.host().and_then(literal_ip)
    }
}

impl Endpoint {
    /// True for a TCP endpoint whose host is a name that only a resolver can turn into an
    /// address (libzmq would ask it synchronously, on the connecting thread and again on every
    /// reconnect: a resolver that never answers would freeze the caller).
    pub fn needs_lookup(&self) -> bool {
        self.host().is_some_and(|host| literal_ip(host).is_none())
    }

    /// The same endpoint at `address` instead of its host name.
    pub fn at_address(&self, address: SocketAddr) -> Endpoint {
        let host = match address.ip() {
            IpAddr::V4(ip) => ip.to_string(),
            IpAddr::V6(ip) => format!("[{ip}]"),
        };
        let text = format!("tcp://{host}:{}", address.port());
        Endpoint { text, kind: Kind::Tcp { host, port: address.port() } }
    }
}

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

impl Endpoint {
    /// The endpoint as one circusd is known by, for telling whether two node entries are the
    /// same circusd: the host lower-cased, `localhost` and the wildcards a client may connect to
    /// (`0.0.0.0`, `*`) written `127.0.0.1`, an IPv6 literal in its canonical form
    /// (`[0:0::1]` → `[::1]`). `ipc://` paths are kept as written.
    pub fn normalized(&self) -> String {
        let Kind::Tcp { host, port } = &self.kind else {
            return self.text.clone();
        };
        let host = host.to_ascii_lowercase();
        let host = match host.as_str() {
            "localhost" | "0.0.0.0" | "*" => "127.0.0.1".to_string(),
            _ => match host.trim_matches(['[', ']']).parse::<IpAddr>() {
                Ok(IpAddr::V4(ip)) => ip.to_string(),
                Ok(IpAddr::V6(ip)) => format!("[{ip}]"),
                Err(_) => host,
            },
        };
        format!("tcp://{host}:{port}")
    }
}

impl FromStr for Endpoint {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        // Endpoints are shown in logs, tables and replies: a newline or an escape sequence in
        // one could forge a log line or garble a table.
        if text.len() > MAX_ENDPOINT_LEN {
            let head: String = text.chars().take(64).collect();
            return Err(format!(
                "'{}...': {} bytes long (limit {MAX_ENDPOINT_LEN})",
                escape_controls(&head),
                text.len()
            ));
        }
        let shown = escape_controls(text);
        if text.chars().any(char::is_control) {
            return Err(format!("'{shown}': control characters are not allowed in an endpoint"));
        }
        if let Some(path) = text.strip_prefix("ipc://") {
            if path.is_empty() {
                return Err(format!("'{shown}': ipc:// needs a path"));
            }
            return Ok(Endpoint { text: text.to_string(), kind: Kind::Ipc });
        }
        let Some(rest) = text.strip_prefix("tcp://") else {
            return Err(format!("'{shown}': expected tcp://HOST:PORT or ipc://PATH"));
        };
        let Some((host, port)) = rest.rsplit_once(':') else {
            return Err(format!("'{shown}': missing :PORT"));
        };
        if host.is_empty() {
            return Err(format!("'{shown}': missing host"));
        }
        if host.starts_with('[') != host.ends_with(']') {
            return Err(format!("'{shown}': unbalanced brackets around an IPv6 address"));
        }
        if host.contains(['/', ' ']) {
            return Err(format!("'{shown}': bad host '{host}'"));
        }
        let port: u16 =
            port.parse().map_err(|_| format!("'{shown}': port '{port}' is not a number from 1 to 65535"))?;
        if port == 0 {
            return Err(format!("'{shown}': port 0 is not allowed"));
        }
        Ok(Endpoint { text: text.to_string(), kind: Kind::Tcp { host: host.to_string(), port } })
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_good_endpoints() {
        let ep: Endpoint = "tcp://127.0.0.1:5555".parse().unwrap();
        assert_eq!(ep.port(), Some(5555));
        assert!(ep.is_local());
        assert!("ipc:///tmp/x.sock".parse::<Endpoint>().unwrap().is_local());
        assert!(!"tcp://0.0.0.0:5555".parse::<Endpoint>().unwrap().is_local());
        assert!("tcp://[::1]:5555".parse::<Endpoint>().unwrap().is_local());
    }

    #[test]
    fn same_place() {
        let ep = |s: &str| s.parse::<Endpoint>().unwrap();
        assert!(ep("tcp://127.0.0.1:5559").same_place(&ep("tcp://localhost:5559")));
        assert!(ep("tcp://*:5559").same_place(&ep("tcp://127.0.0.1:5559")));
        assert!(!ep("tcp://127.0.0.1:5559").same_place(&ep("tcp://127.0.0.1:5560")));
        assert!(!ep("tcp://10.0.0.1:5559").same_place(&ep("tcp://127.0.0.1:5559")));
        for spelling in ["127.1", "0", "0.0.0.0", "2130706433", "[::ffff:127.0.0.1]", "localhost", "[::1]", "0x7f.1"] {
            let candidate = ep(&format!("tcp://{spelling}:5559"));
            assert!(candidate.same_place(&ep("tcp://127.0.0.1:5559")), "{spelling}");
            assert!(candidate.same_place(&ep("tcp://*:5559")), "{spelling}");
            assert!(!candidate.same_place(&ep("tcp://127.0.0.1:5560")), "{spelling}");
        }
        assert!(ep("tcp://10.0.0.1:5559").same_place(&ep("tcp://167772161:5559")));
        assert!(!ep("tcp://node.example:5559").same_place(&ep("tcp://127.0.0.1:5559")));
    }

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

    #[test]
    fn normalized_names_one_circusd_one_way() {
        let norm = |s: &str| s.parse::<Endpoint>().unwrap().normalized();
        for same in ["tcp://localhost:5555", "tcp://LocalHost:5555", "tcp://0.0.0.0:5555", "tcp://*:5555"] {
            assert_eq!(norm(same), "tcp://127.0.0.1:5555", "{same}");
        }
        assert_eq!(norm("tcp://[0:0::1]:5555"), "tcp://[::1]:5555");
        assert_eq!(norm("tcp://Node-1.example:5555"), "tcp://node-1.example:5555");
        assert_ne!(norm("tcp://127.0.0.1:5555"), norm("tcp://127.0.0.1:5556"));
        assert_ne!(norm("tcp://10.0.0.1:5555"), norm("tcp://127.0.0.1:5555"));
        assert_eq!(norm("ipc:///tmp/c.sock"), "ipc:///tmp/c.sock");
    }

    #[test]
    fn refuses_bad_endpoints() {
        for bad in
            ["", "127.0.0.1:5555", "tcp://127.0.0.1", "tcp://:5", "tcp://h:0", "tcp://h:99999", "udp://h:1", "ipc://"]
        {
            assert!(bad.parse::<Endpoint>().is_err(), "{bad}");
        }
    }

    #[test]
    fn refuses_control_characters_and_huge_endpoints() {
        for bad in
            ["ipc:///tmp/a\nclusterd::audit forged", "tcp://127.0.0.1:5555\u{1b}[2J", "ipc:///tmp/\rx", "tcp://a\tb:1"]
        {
            let err = bad.parse::<Endpoint>().unwrap_err();
            assert!(err.contains("control characters are not allowed in an endpoint"), "{err}");
            assert!(!err.chars().any(char::is_control), "the error is escaped: {err:?}");
        }
        let long = format!("ipc:///tmp/{}", "x".repeat(2000));
        assert!(long.parse::<Endpoint>().unwrap_err().contains("(limit 1024)"));
        assert!(" ipc:///tmp/x.sock\n".parse::<Endpoint>().is_ok(), "surrounding whitespace is trimmed");
    }
}
