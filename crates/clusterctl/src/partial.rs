//! Replies that leave nodes out: a merged read answered by only some nodes (`missing`, with
//! the master's default `merged_reads = "partial"`) or a change that failed on some nodes but
//! happened on others (`failed` in an ok reply). The results are printed as usual; this names
//! each left-out node on stderr and turns the exit status into [`exit::PARTIAL`].

use std::io::{self, Write};

use clusterd_protocol::Reply;
use serde_json::Value;

use crate::error::exit;

/// Names on `err` the nodes `reply` leaves out and returns the exit status: [`exit::PARTIAL`]
/// when an ok reply left any node out, else `code` (the status of the printed reply). The
/// failures of a `gathered` reply are printed with it already; its skipped nodes (no such
/// watcher there) are not failures, so an ok change with nothing failed exits 0.
///
/// # Errors
/// Writing to `err` failed.
pub fn report(reply: &Reply, code: i32, gathered: bool, err: &mut dyn Write) -> io::Result<i32> {
    if reply.is_error() {
        return Ok(code);
    }
    let mut left_out = false;
    if let Some(Value::Object(missing)) = reply.0.get("missing") {
        for (node, entry) in missing {
            let state = entry.get("state").and_then(Value::as_str).unwrap_or("unknown");
            let reason = entry.get("reason").and_then(Value::as_str).unwrap_or("no answer");
            writeln!(err, "partial result: node {node} did not answer ({state}): {reason}")?;
            left_out = true;
        }
    }
    let Some(Value::Object(failed)) = reply.0.get("failed") else {
        return Ok(if left_out { exit::PARTIAL } else { code });
    };
    for (node, reason) in failed {
        if !gathered {
            writeln!(err, "partial result: node {node} failed: {}", reason.as_str().unwrap_or("error"))?;
        }
        left_out = true;
    }
    Ok(if left_out { exit::PARTIAL } else { exit::OK })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(text: &str) -> Reply {
        Reply(serde_json::from_str(text).expect("json"))
    }

    #[test]
    fn missing_nodes_are_named_and_change_the_status() {
        let partial = reply(
            r#"{"status": "ok", "numprocesses": "2 (without second: unreachable (down, last seen 3s ago))",
                "counted": 2, "missing": {"second": {"state": "down", "last_seen": 1.0,
                "reason": "node second is down (missed 3 probes, last seen 3.0s ago)"}}}"#,
        );
        let mut err = Vec::new();
        assert_eq!(report(&partial, exit::OK, false, &mut err).unwrap(), exit::PARTIAL);
        let text = String::from_utf8(err).unwrap();
        assert_eq!(
            text,
            "partial result: node second did not answer (down): node second is down (missed 3 probes, last seen 3.0s ago)\n"
        );
    }

    #[test]
    fn failed_nodes_of_an_ok_change_are_named() {
        let change = reply(
            r#"{"status": "ok", "changed": ["first"], "skipped": [], "failed": {"third": "node third is unreachable (no connection)"}}"#,
        );
        let mut err = Vec::new();
        assert_eq!(report(&change, exit::OK, false, &mut err).unwrap(), exit::PARTIAL);
        assert!(String::from_utf8(err).unwrap().contains("node third failed: node third is unreachable"));
        // A gathered reply printed its failures already (with status 3): not twice, status 4.
        let mut err = Vec::new();
        assert_eq!(report(&change, exit::ERROR_REPLY, true, &mut err).unwrap(), exit::PARTIAL);
        assert!(err.is_empty());
        // An error reply keeps its status.
        let error = reply(r#"{"status": "error", "errno": 5, "reason": "2 of 2 nodes failed", "failed": {"a": "x"}}"#);
        assert_eq!(report(&error, exit::ERROR_REPLY, true, &mut Vec::new()).unwrap(), exit::ERROR_REPLY);
    }

    #[test]
    fn complete_replies_are_left_alone() {
        let whole = reply(r#"{"status": "ok", "changed": ["first"], "skipped": ["second"], "failed": {}}"#);
        let mut err = Vec::new();
        // The gathered printer counted the skipped node as failed: it is not.
        assert_eq!(report(&whole, exit::ERROR_REPLY, true, &mut err).unwrap(), exit::OK);
        assert!(err.is_empty());
        let plain = reply(r#"{"status": "ok", "numprocesses": 3}"#);
        assert_eq!(report(&plain, exit::OK, false, &mut err).unwrap(), exit::OK);
    }
}
