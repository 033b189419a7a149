//! Discovery targets, as written in `discover = [...]`:
//!
//! * `tcp://HOSTS:PORTS`: HOSTS is a host name, an IPv4 address, a last-octet range
//!   (`127.0.0.1-3`) or a CIDR block (`10.0.0.0/30`); PORTS is a port or a range (`5555-5575`).
//!   Every combination is probed.
//! * `udp://ADDRESS:PORT`: Circus's own UDP discovery (circus-protocol.md §1.5): a datagram sent
//!   there is answered by every circusd listening with `{"endpoint": ...}`. ADDRESS is normally
//!   the multicast group of the nodes' `multicast_endpoint`.

use std::net::Ipv4Addr;

use clusterd_protocol::Endpoint;

/// Targets larger than this are refused: a typo such as `/8` would mean millions of probes.
pub const MAX_ENDPOINTS: usize = 65_536;

/// A parsed discovery target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Probe every `host:port` combination with `globaloptions`.
    Scan {
        /// Hosts, as they go into endpoints.
        hosts: Vec<String>,
        /// First and last port.
        ports: (u16, u16),
    },
    /// Ask Circus's UDP discovery at this address and port.
    Udp {
        /// Address (normally a multicast group).
        address: String,
        /// Port.
        port: u16,
    },
}

impl Target {
    /// The command endpoints a scan target stands for (none for a UDP target).
    pub fn endpoints(&self) -> Vec<Endpoint> {
        let Target::Scan { hosts, ports } = self else { return Vec::new() };
        hosts
            .iter()
            .flat_map(|host| (ports.0..=ports.1).map(move |port| format!("tcp://{host}:{port}")))
            .filter_map(|text| text.parse().ok())
            .collect()
    }
}

/// Parses one target.
///
/// # Errors
/// What is wrong with it.
pub fn parse_target(text: &str) -> Result<Target, String> {
    let text = text.trim();
    if let Some(rest) = text.strip_prefix("udp://") {
        let (address, port) = rest.rsplit_once(':').ok_or("missing :PORT")?;
        if address.is_empty() {
            return Err("missing address".into());
        }
        let port = parse_port(port)?;
        return Ok(Target::Udp { address: address.to_string(), port });
    }
    let rest = text.strip_prefix("tcp://").ok_or("expected tcp://HOSTS:PORTS or udp://GROUP:PORT")?;
    let (hosts, ports) = rest.rsplit_once(':').ok_or("missing :PORT or :PORT-PORT")?;
    let ports = match ports.split_once('-') {
        Some((first, last)) => (parse_port(first)?, parse_port(last)?),
        None => (parse_port(ports)?, parse_port(ports)?),
    };
    if ports.0 > ports.1 {
        return Err(format!("port range {}-{} is backwards", ports.0, ports.1));
    }
    let hosts = parse_hosts(hosts)?;
    let count = hosts.len() * usize::from(ports.1 - ports.0 + 1);
    if count > MAX_ENDPOINTS {
        return Err(format!("{count} endpoints to probe (at most {MAX_ENDPOINTS}): narrow the range"));
    }
    Ok(Target::Scan { hosts, ports })
}

fn parse_port(text: &str) -> Result<u16, String> {
    match text.trim().parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(format!("'{text}' is not a port from 1 to 65535")),
    }
}

/// `127.0.0.1`, `127.0.0.1-3`, `10.0.0.0/30` or a host name.
fn parse_hosts(text: &str) -> Result<Vec<String>, String> {
    if text.is_empty() {
        return Err("missing host".into());
    }
    if let Some((base, bits)) = text.split_once('/') {
        let base: Ipv4Addr = base.parse().map_err(|_| format!("'{base}' is not an IPv4 address"))?;
        let bits: u32 = bits.parse().ok().filter(|b| *b <= 32).ok_or(format!("'/{bits}' is not a prefix length"))?;
        let size = 1u64 << (32 - bits);
        if size > MAX_ENDPOINTS as u64 {
            return Err(format!("/{bits} holds {size} addresses (at most {MAX_ENDPOINTS})"));
        }
        let start = u32::from(base) & (u32::MAX.checked_shl(32 - bits).unwrap_or(0));
        return Ok((0..size as u32).map(|i| Ipv4Addr::from(start + i).to_string()).collect());
    }
    if let Some((first, last)) = text.rsplit_once('-') {
        if let (Ok(first), Ok(last)) = (first.parse::<Ipv4Addr>(), last.parse::<u8>()) {
            let [a, b, c, start] = first.octets();
            if start > last {
                return Err(format!("address range {first}-{last} is backwards"));
            }
            return Ok((start..=last).map(|d| Ipv4Addr::new(a, b, c, d).to_string()).collect());
        }
    }
    if text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')) {
        return Ok(vec![text.to_string()]);
    }
    Err(format!("'{text}' is not a host, an address range (a.b.c.d-e) or a CIDR block"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints(text: &str) -> Vec<String> {
        parse_target(text).unwrap().endpoints().iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn host_and_port_ranges() {
        assert_eq!(
            endpoints("tcp://127.0.0.1-3:5555"),
            ["tcp://127.0.0.1:5555", "tcp://127.0.0.2:5555", "tcp://127.0.0.3:5555"]
        );
        assert_eq!(endpoints("tcp://127.0.0.1:5555-5557").len(), 3);
        assert_eq!(
            endpoints("tcp://10.0.0.5/30:1"),
            ["tcp://10.0.0.4:1", "tcp://10.0.0.5:1", "tcp://10.0.0.6:1", "tcp://10.0.0.7:1"]
        );
        assert_eq!(endpoints("tcp://node-1.example:5555"), ["tcp://node-1.example:5555"]);
        assert_eq!(
            parse_target("udp://237.219.251.97:12027").unwrap(),
            Target::Udp { address: "237.219.251.97".into(), port: 12027 }
        );
    }

    #[test]
    fn bad_targets_say_why() {
        for bad in [
            "",
            "127.0.0.1:5555",
            "tcp://127.0.0.1",
            "tcp://:1",
            "tcp://h:0",
            "tcp://h:9-1",
            "tcp://10.0.0.0/8:1",
            "tcp://1.2.3.9-2:1",
            "tcp://a b:1",
            "udp://:1",
        ] {
            assert!(parse_target(bad).is_err(), "{bad}");
        }
    }
}
