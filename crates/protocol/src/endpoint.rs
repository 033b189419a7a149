//! ZeroMQ endpoints as Circus configures them: `tcp://host:port` or `ipc://path`.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

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
    /// the same port with both hosts local (loopback, `localhost`) or wildcards (`*`, `0.0.0.0`).
    pub fn same_place(&self, other: &Endpoint) -> bool {
        if self.text == other.text {
            return true;
        }
        let here = |ep: &Endpoint| ep.is_local() || matches!(ep.host(), Some("*" | "0.0.0.0" | "[::]"));
        self.port().is_some() && self.port() == other.port() && here(self) && here(other)
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
