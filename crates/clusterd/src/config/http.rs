//! The dashboard's settings (`[cluster]` keys `http_endpoint`, `http_token`, `http_readonly`,
//! `metrics_per_pid`), and who may reach it: loopback unless `allow_remote = true`, and then
//! only with a token, because the dashboard's buttons run commands on every node.

use std::net::SocketAddr;

use clusterd_protocol::secret::Secret;

use super::SECURITY_DOC;

/// The `[cluster]` keys of the dashboard.
pub const HTTP_KEYS: &[&str] = &["http_endpoint", "http_token", "http_readonly", "metrics_per_pid"];

/// The dashboard's settings; off by default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HttpSettings {
    /// Where the HTTP server listens (`host:port`); `None` (empty): no HTTP server.
    pub endpoint: Option<SocketAddr>,
    /// What requests must carry as `Authorization: Bearer <token>`, when set.
    pub token: Option<Secret>,
    /// Hides the buttons and refuses every state-changing request.
    pub readonly: bool,
    /// `/metrics` also has one series per process (a new series at every restart).
    pub metrics_per_pid: bool,
}

impl HttpSettings {
    /// Sets the key `name` (one of [`HTTP_KEYS`]) from its text.
    ///
    /// # Errors
    /// Why the value is refused.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        match name {
            "http_endpoint" => self.endpoint = parse_listen(value)?,
            // Not trimmed, like register_secret: taken exactly as written (empty: none).
            "http_token" => self.token = Secret::new(value),
            "http_readonly" => self.readonly = parse_bool(value)?,
            "metrics_per_pid" => self.metrics_per_pid = parse_bool(value)?,
            _ => return Err(format!("unknown key (known: {})", HTTP_KEYS.join(", "))),
        }
        Ok(())
    }

    /// Checks who can reach the dashboard: a non-loopback `http_endpoint` needs
    /// `allow_remote = true` and an `http_token`.
    ///
    /// # Errors
    /// The key at fault and why.
    pub fn check(&self, allow_remote: bool) -> Result<(), (&'static str, String)> {
        let Some(addr) = self.endpoint.filter(|addr| !addr.ip().is_loopback()) else {
            return Ok(());
        };
        if !allow_remote {
            let reason = format!(
                "{addr} can be reached from other machines and the dashboard can run commands on every \
                 node: bind 127.0.0.1 or ::1, or set allow_remote = true and http_token (see {SECURITY_DOC})"
            );
            return Err(("http_endpoint", reason));
        }
        if self.token.is_none() {
            let reason = format!("{addr} is not loopback: set http_token, which every request must then carry");
            return Err(("http_token", reason));
        }
        Ok(())
    }
}

/// `host:port` with an IP address (or `localhost`); empty: off.
fn parse_listen(value: &str) -> Result<Option<SocketAddr>, String> {
    let text = value.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let text = match text.strip_prefix("localhost:") {
        Some(port) => format!("127.0.0.1:{port}"),
        None => text.to_string(),
    };
    text.parse::<SocketAddr>()
        .map(Some)
        .map_err(|_| format!("'{value}' is not an address to listen on: write IP:PORT, e.g. \"127.0.0.1:5580\""))
}

fn parse_bool(value: &str) -> Result<bool, String> {
    clusterd_protocol::circus_bool(value).ok_or_else(|| format!("'{value}' is not true or false"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_read_and_checked() {
        let mut http = HttpSettings::default();
        assert_eq!(http.endpoint, None);
        http.set("http_endpoint", "localhost:5580").unwrap();
        assert_eq!(http.endpoint, Some("127.0.0.1:5580".parse().unwrap()));
        http.set("http_readonly", "true").unwrap();
        http.set("metrics_per_pid", "yes").unwrap();
        assert!(http.readonly && http.metrics_per_pid);
        let err = http.set("http_endpoint", "tcp://1.2.3.4:1").unwrap_err();
        assert!(err.contains("IP:PORT"), "{err}");
        assert!(http.set("http_readonly", "maybe").unwrap_err().contains("true or false"));
        http.set("http_endpoint", "").unwrap();
        assert_eq!(http.endpoint, None);
    }

    #[test]
    fn remote_dashboards_need_allow_remote_and_a_token() {
        let mut http = HttpSettings::default();
        http.set("http_endpoint", "127.0.0.1:5580").unwrap();
        assert_eq!(http.check(false), Ok(()));
        http.set("http_endpoint", "0.0.0.0:5580").unwrap();
        let (key, reason) = http.check(false).unwrap_err();
        assert_eq!(key, "http_endpoint");
        assert!(reason.contains("allow_remote"), "{reason}");
        assert_eq!(http.check(true).unwrap_err().0, "http_token");
        http.set("http_token", "s3cret").unwrap();
        assert_eq!(http.check(true), Ok(()));
    }
}
