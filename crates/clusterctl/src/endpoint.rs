//! Endpoints on the command line: checked before any socket is made (libzmq's own refusal,
//! `Invalid argument`, names neither the option nor the fix), and the merged stream endpoints
//! that `listen` and `top` learn from the master's `globaloptions`.

use clusterd_protocol::{request, Endpoint, Reply};
use serde_json::{json, Value};

use crate::error::CtlError;
use crate::master::Master;

/// Checks an endpoint given by `origin` (`--endpoint`, `CLUSTERCTL_ENDPOINT`, ...).
///
/// # Errors
/// [`CtlError::BadEndpoint`]: one line naming the origin, with the likely fix when the scheme is
/// missing.
pub fn check(origin: &str, text: &str) -> Result<(), CtlError> {
    if text.parse::<Endpoint>().is_ok() {
        return Ok(());
    }
    let reason = if text.contains("://") {
        format!("{origin} {text}: expected tcp://HOST:PORT or ipc://PATH")
    } else {
        format!("{origin} {text} has no scheme: write tcp://{text} (or ipc://PATH)")
    };
    Err(CtlError::BadEndpoint(reason))
}

/// The master's merged streams, as its `globaloptions` reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEndpoints {
    /// The merged event stream (`listen`).
    pub pubsub: String,
    /// The merged stats stream (`top`).
    pub stats: String,
}

/// Asks `master` (at `endpoint`) for its stream endpoints. A wildcard host (`0.0.0.0`, `*`) is
/// replaced by the host of `endpoint`, where the master was reached.
///
/// # Errors
/// No answer (transport error, [`CtlError::NoAnswer`] after the caller's mapping), or an answer
/// that is not a master's or a circusd's ([`CtlError::NotMaster`]).
pub fn learn_streams(master: &dyn Master, endpoint: &str) -> Result<StreamEndpoints, CtlError> {
    let reply = master.call(&request("globaloptions", json!({})))?;
    let not_master = |why: &str| CtlError::NotMaster(format!("{endpoint} does not look like clusterd: {why}"));
    if reply.is_error() {
        let reason = reply.0.get("reason").and_then(Value::as_str).unwrap_or("no reason");
        return Err(not_master(&format!("globaloptions failed ({reason})")));
    }
    let option = |key: &str| stream_option(&reply, key, endpoint);
    match (option("pubsub_endpoint"), option("stats_endpoint")) {
        (Some(pubsub), Some(stats)) => Ok(StreamEndpoints { pubsub, stats }),
        _ => Err(not_master("its globaloptions names no pubsub_endpoint and stats_endpoint")),
    }
}

/// One endpoint option of a `globaloptions` reply, wildcard host replaced.
fn stream_option(reply: &Reply, key: &str, reached_at: &str) -> Option<String> {
    let text = reply.0.get("options")?.get(key)?.as_str()?;
    let parsed: Endpoint = text.parse().ok()?;
    let reached: Option<Endpoint> = reached_at.parse().ok();
    match (parsed.host(), reached.as_ref().and_then(Endpoint::host)) {
        (Some(wild @ ("0.0.0.0" | "*")), Some(host)) => Some(text.replacen(wild, host, 1)),
        _ => Some(text.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::master::fake::Scripted;

    #[test]
    fn endpoints_without_scheme_get_a_hint() {
        assert!(check("--endpoint", "tcp://127.0.0.1:5558").is_ok());
        assert!(check("--endpoint", "ipc:///tmp/x.sock").is_ok());
        let err = check("--endpoint", "127.0.0.1:5558").unwrap_err();
        assert_eq!(
            err.to_string(),
            "--endpoint 127.0.0.1:5558 has no scheme: write tcp://127.0.0.1:5558 (or ipc://PATH)"
        );
        let err = check("CLUSTERCTL_ENDPOINT", "udp://h:1").unwrap_err();
        assert_eq!(err.to_string(), "CLUSTERCTL_ENDPOINT udp://h:1: expected tcp://HOST:PORT or ipc://PATH");
    }

    #[test]
    fn streams_come_from_globaloptions() {
        let master = Scripted::new(&[
            Some(
                r#"{"status": "ok", "options": {"pubsub_endpoint": "tcp://0.0.0.0:7560", "stats_endpoint": "tcp://127.0.0.1:7559"}}"#,
            ),
            Some(r#"{"status": "ok", "options": {"endpoint": "tcp://127.0.0.1:7558"}}"#),
            Some(r#"{"status": "error", "reason": "unknown command", "errno": 2}"#),
            None,
        ]);
        let learnt = learn_streams(&master, "tcp://10.0.0.5:7558").unwrap();
        assert_eq!(learnt.pubsub, "tcp://10.0.0.5:7560");
        assert_eq!(learnt.stats, "tcp://127.0.0.1:7559");
        let err = learn_streams(&master, "tcp://h:1").unwrap_err().to_string();
        assert_eq!(
            err,
            "tcp://h:1 does not look like clusterd: its globaloptions names no pubsub_endpoint and stats_endpoint"
        );
        let err = learn_streams(&master, "tcp://h:1").unwrap_err().to_string();
        assert!(err.contains("globaloptions failed (unknown command)"), "{err}");
        assert!(matches!(learn_streams(&master, "tcp://h:1"), Err(CtlError::Transport(_))));
    }
}
