//! `clusterctl dashboard [--open]`: prints the URL of the master's web dashboard, read from the
//! master's `globaloptions` (`http_endpoint`), and opens it with `xdg-open` when asked.

use clusterd_protocol::Reply;
use serde_json::Value;

/// `dashboard [--open]`.
#[derive(clap::Args, Debug, Clone)]
pub struct DashboardArgs {
    /// Also open the dashboard in the desktop's browser (xdg-open)
    #[arg(long)]
    pub open: bool,
}

/// The dashboard's URL from a `globaloptions` reply of the master at `master_endpoint`; a
/// wildcard listen address (`0.0.0.0`, `[::]`) is replaced by the master's host.
///
/// # Errors
/// The master has no dashboard (`http_endpoint` empty), or the reply is not a master's.
pub fn url(reply: &Reply, master_endpoint: &str) -> Result<String, String> {
    let options = reply.0.get("options").ok_or("the reply has no options: is this a clusterd master?")?;
    let addr = match options.get("http_endpoint") {
        Some(Value::String(addr)) => addr.clone(),
        Some(Value::Null) => {
            return Err("the master's dashboard is off: set [cluster] http_endpoint (docs/http.md)".into())
        }
        _ => return Err("the master reports no http_endpoint: is this a clusterd master with a dashboard?".into()),
    };
    let host = master_endpoint.strip_prefix("tcp://").and_then(|rest| rest.rsplit_once(':')).map(|(host, _)| host);
    let addr = match (addr.rsplit_once(':'), host) {
        (Some(("0.0.0.0" | "[::]", port)), Some(host)) if host != "*" && host != "0.0.0.0" => format!("{host}:{port}"),
        _ => addr,
    };
    Ok(format!("http://{addr}/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reply(value: Value) -> Reply {
        Reply(value.as_object().cloned().unwrap())
    }

    #[test]
    fn the_url_comes_from_the_masters_http_endpoint() {
        let on = reply(json!({"status": "ok", "options": {"http_endpoint": "127.0.0.1:5580"}}));
        assert_eq!(url(&on, "tcp://127.0.0.1:5558").unwrap(), "http://127.0.0.1:5580/");
        let wildcard = reply(json!({"status": "ok", "options": {"http_endpoint": "0.0.0.0:5580"}}));
        assert_eq!(url(&wildcard, "tcp://10.0.0.5:5558").unwrap(), "http://10.0.0.5:5580/");
        let off = reply(json!({"status": "ok", "options": {"http_endpoint": null}}));
        assert!(url(&off, "tcp://127.0.0.1:5558").unwrap_err().contains("http_endpoint"));
        let circusd = reply(json!({"status": "ok", "options": {"check_delay": 5}}));
        assert!(url(&circusd, "tcp://127.0.0.1:5555").unwrap_err().contains("no http_endpoint"));
    }
}
