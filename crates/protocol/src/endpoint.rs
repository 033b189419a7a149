//! ZeroMQ endpoints as Circus configures them: `tcp://host:port` or `ipc://path`.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use crate::names::escape_controls;

mod address;

pub use address::{is_this_machine, literal_ip, lookup_blocking, resolve};

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
