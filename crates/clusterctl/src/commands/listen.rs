//! `listen [<topic>...]`: subscribes to an event stream (the master's merged events by default,
//! or any circusd's `pubsub_endpoint` with `--endpoint`) and prints one `topic payload` line per
//! event until interrupted.

use std::io::Write;

use clusterd_protocol::connection::Subscriber;

use crate::error::CtlError;

/// The master's merged event stream; `CLUSTERCTL_ENDPOINT` is not used (circusctl's `listen`
/// ignores `CIRCUSCTL_ENDPOINT` too).
pub const DEFAULT_LISTEN_ENDPOINT: &str = "tcp://127.0.0.1:5560";

/// `listen` arguments.
#[derive(clap::Args, Debug)]
pub struct ListenArgs {
    /// Topic prefixes, e.g. watcher.dummy. (everything when omitted)
    #[arg(value_name = "TOPIC")]
    pub topics: Vec<String>,
}

/// The subscriptions: the given prefixes, or `""` (everything) as circusctl.
pub fn topics(args: &ListenArgs) -> Vec<String> {
    if args.topics.is_empty() {
        vec![String::new()]
    } else {
        args.topics.clone()
    }
}

/// Prints events from `endpoint` forever (or until stdout closes).
///
/// # Errors
/// A bad endpoint, a socket failure, or a closed stdout ([`CtlError::Io`]).
pub fn run(endpoint: &str, topics: &[String], out: &mut dyn Write) -> Result<(), CtlError> {
    let subscriber = Subscriber::connect(endpoint, topics).map_err(CtlError::Transport)?;
    loop {
        let (topic, payload) = subscriber.recv().map_err(CtlError::Transport)?;
        writeln!(out, "{}", event_line(&topic, &payload))?;
        out.flush()?;
    }
}

/// `topic payload`, both decoded as UTF-8 (invalid bytes replaced).
fn event_line(topic: &[u8], payload: &[u8]) -> String {
    format!("{} {}", String::from_utf8_lossy(topic), String::from_utf8_lossy(payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_print_as_topic_and_payload() {
        let line = event_line(b"watcher.first:dummy.spawn", br#"{"process_pid": 1, "time": 2.5}"#);
        assert_eq!(line, r#"watcher.first:dummy.spawn {"process_pid": 1, "time": 2.5}"#);
        assert_eq!(topics(&ListenArgs { topics: vec![] }), vec![String::new()]);
    }
}
