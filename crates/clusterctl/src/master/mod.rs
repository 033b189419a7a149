//! Talking to the master about node sets: resolving an expression with `nodeset`, sending one
//! request to a list of nodes and reading the answer as a [`Gathered`] reply whatever its shape,
//! and learning the master's event stream.
//!
//! [`Master`] is the one-call transport of the whole crate: the protocol crate's [`Client`] for
//! the commands, the worker agent's list of masters for `join`, and `fake::Scripted` in every
//! unit test that needs a master.

use std::io::Write;
use std::time::Duration;

use clusterd_protocol::connection::{Client, ConnectionError};
use clusterd_protocol::{request, Reply, Request};
use serde_json::{json, Value};

use crate::error::CtlError;
use crate::gather::{Gathered, NodeReply};
use crate::pystr::py_str_opt;

/// Sends a request to the master and gets its reply: the commands' [`Client`], the worker
/// agent's list of masters (`agent::Masters`), or the one scripted fake of the unit tests (`fake::Scripted`).
pub trait Master {
    /// Sends `request` and waits at most `timeout` for its reply.
    ///
    /// # Errors
    /// A transport failure, [`ConnectionError::Timeout`], or
    /// [`ConnectionError::NoneAnswered`] when several masters were asked and none answered.
    fn call_within(&self, request: &Request, timeout: Duration) -> Result<Reply, ConnectionError>;

    /// The deadline of [`Master::call`] (the command line's `--timeout` for the commands).
    fn timeout(&self) -> Duration;

    /// Sends `request` and waits at most [`Master::timeout`] for its reply.
    ///
    /// # Errors
    /// As [`Master::call_within`].
    fn call(&self, request: &Request) -> Result<Reply, ConnectionError> {
        self.call_within(request, self.timeout())
    }
}

impl Master for Client {
    fn call_within(&self, request: &Request, timeout: Duration) -> Result<Reply, ConnectionError> {
        Client::call_within(self, request, timeout)
    }

    fn timeout(&self) -> Duration {
        Client::timeout(self)
    }
}

/// Why a node set could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// The master said no (no match, bad expression, unknown command): the reason.
    #[error("{0}")]
    Refused(String),
    /// No reply.
    #[error(transparent)]
    Transport(#[from] ConnectionError),
}

/// The nodes `expr` selects, in the master's order (`nodeset` command).
///
/// # Errors
/// [`ResolveError::Refused`] with the master's reason (an expression matching nothing is
/// errno 3), or a transport failure.
pub fn resolve(master: &dyn Master, expr: &str) -> Result<Vec<String>, ResolveError> {
    let reply = master.call(&request("nodeset", json!({ "expr": expr })))?;
    if reply.is_error() {
        return Err(ResolveError::Refused(py_str_opt(reply.0.get("reason"))));
    }
    match reply.0.get("nodes") {
        Some(Value::Array(nodes)) if !nodes.is_empty() => {
            Ok(nodes.iter().map(|node| node.as_str().map_or_else(|| node.to_string(), String::from)).collect())
        }
        Some(Value::Array(_)) => Err(ResolveError::Refused(format!("node set '{expr}' matches no node"))),
        _ => Err(ResolveError::Refused("malformed nodeset reply: missing or invalid 'nodes'".into())),
    }
}

/// [`resolve`] for the command line: a refusal is printed as `error: <reason>` and gives `None`
/// (the caller exits with status 3).
///
/// # Errors
/// No reply from the master, or writing failed.
pub fn resolve_or_report(
    master: &dyn Master,
    expr: &str,
    err: &mut dyn Write,
) -> Result<Option<Vec<String>>, CtlError> {
    match resolve(master, expr) {
        Ok(nodes) => Ok(Some(nodes)),
        Err(ResolveError::Refused(reason)) => {
            writeln!(err, "error: {reason}")?;
            Ok(None)
        }
        Err(ResolveError::Transport(transport)) => Err(transport.into()),
    }
}

/// Sends `request` to `nodes` (as the comma list in `node`) and returns one reply per node.
///
/// A single node's plain reply, an error reply about the whole request and a transport failure
/// are all turned into per-node replies, so that callers only ever see [`Gathered`]. A node
/// missing from a gathered reply counts as failed.
pub fn call_nodes(master: &dyn Master, request: &Request, nodes: &[String]) -> Gathered {
    let mut request = request.clone();
    request.properties.insert("node".into(), Value::String(nodes.join(",")));
    let reply = match master.call(&request) {
        Ok(reply) => reply,
        Err(err) => return Gathered::all_failed(nodes, &format!("no reply from the master: {err}")),
    };
    if let Some(mut gathered) = Gathered::from_reply(&reply) {
        for node in nodes {
            if gathered.get(node).is_none() {
                let missing = Gathered::all_failed(std::slice::from_ref(node), "no reply for this node");
                gathered.replies.extend(missing.replies);
            }
        }
        return gathered;
    }
    match nodes {
        [node] => {
            let mut reply = reply;
            reply.0.remove("id");
            Gathered { replies: vec![NodeReply { node: node.clone(), reply }] }
        }
        _ if reply.is_error() => Gathered::all_failed(nodes, &py_str_opt(reply.0.get("reason"))),
        _ => Gathered::all_failed(nodes, "malformed reply: expected 'replies' for a node set"),
    }
}

/// The default master's merged event stream (what its `globaloptions` names by default).
pub const DEFAULT_LISTEN_ENDPOINT: &str = "tcp://127.0.0.1:5560";

/// The master's event stream (`globaloptions`' `pubsub_endpoint`), else the default one.
pub fn pubsub_endpoint(master: &dyn Master) -> String {
    let options = request("globaloptions", json!({}));
    let endpoint = master.call(&options).ok().and_then(|reply| match reply.0.get("options") {
        Some(Value::Object(options)) => options.get("pubsub_endpoint").and_then(Value::as_str).map(String::from),
        _ => None,
    });
    endpoint.unwrap_or_else(|| DEFAULT_LISTEN_ENDPOINT.to_string())
}

#[cfg(test)]
pub mod fake;

#[cfg(test)]
mod tests {
    use super::fake::Scripted;
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| name.to_string()).collect()
    }

    #[test]
    fn resolve_asks_nodeset() {
        let master = Scripted::new(&[
            Some(r#"{"status": "ok", "time": 1.0, "nodes": ["first", "third"], "id": 1}"#),
            Some(r#"{"status": "error", "reason": "node set 'x' matches no node", "errno": 3}"#),
            None,
        ]);
        assert_eq!(resolve(&master, "all!second").unwrap(), names(&["first", "third"]));
        assert_eq!(master.requests.borrow()[0], ("nodeset".into(), r#"{"expr":"all!second"}"#.into()));
        let err = resolve(&master, "x").unwrap_err();
        assert_eq!(err.to_string(), "node set 'x' matches no node");
        assert!(matches!(resolve(&master, "y"), Err(ResolveError::Transport(ConnectionError::Timeout))));
    }

    #[test]
    fn every_shape_of_answer_becomes_per_node_replies() {
        let master = Scripted::new(&[
            Some(r#"{"status": "ok", "replies": {"b": {"status": "ok"}}, "id": 1}"#),
            Some(r#"{"status": "active", "time": 1.0, "id": 2}"#),
            Some(r#"{"status": "error", "reason": "unknown command", "errno": 2, "id": 3}"#),
            None,
        ]);
        let status = request("status", json!({ "name": "dummy" }));
        let gathered = call_nodes(&master, &status, &names(&["a", "b"]));
        assert_eq!(gathered.get("a").unwrap().reason(), "no reply for this node");
        assert!(!gathered.get("b").unwrap().failed());
        let single = call_nodes(&master, &status, &names(&["a"]));
        assert_eq!(single.replies[0].reply.0.get("status"), Some(&json!("active")));
        assert!(!single.replies[0].reply.0.contains_key("id"));
        let refused = call_nodes(&master, &status, &names(&["a", "b"]));
        assert!(refused.replies.iter().all(|r| r.failed() && r.reason() == "unknown command"));
        let lost = call_nodes(&master, &status, &names(&["a", "b"]));
        assert_eq!(lost.replies[1].reason(), "no reply from the master: Timed out.");
        assert_eq!(master.nodes(), ["a,b", "a", "a,b", "a,b"]);
    }

    #[test]
    fn pubsub_endpoint_comes_from_globaloptions() {
        let master =
            Scripted::new(&[Some(r#"{"status": "ok", "options": {"pubsub_endpoint": "tcp://127.0.0.1:7560"}}"#), None]);
        assert_eq!(pubsub_endpoint(&master), "tcp://127.0.0.1:7560");
        assert_eq!(pubsub_endpoint(&master), DEFAULT_LISTEN_ENDPOINT);
    }
}
