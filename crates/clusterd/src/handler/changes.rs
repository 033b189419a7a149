//! Requests over several nodes that are not merged reads: patterns (`restart '*:web*'`), node
//! sets (`incr '*:dummy'`, `properties.node = "@eu"`) and arbiter-wide changes (`restart` with
//! no name). Each node's outcome is `changed`, `skipped` (the watcher is not there, as circusd's
//! `program X not found`) or `failed`, and the reply names the nodes of each: a change that
//! happened on some node is never reported as a failure, so a client never retries it into a
//! double change. Node-set reads (`status` with `node = "all"`) are gathered here too, partial
//! like the merged reads.

use std::sync::Arc;

use clusterd_protocol::{Errno, Reply, Request};
use serde_json::{Map, Value};

use super::gather::{as_replies, failures, gather, partial_allowed, Results};
use super::table::is_read_only;
use super::{error, ok, partial};
use crate::registry::Node;
use crate::Ctx;

/// What one node did with a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Changed,
    Skipped,
    Failed,
}

/// Every node's reply (a node that gave no answer: the errno 5 reply naming it) and outcome.
type Tally = Vec<(Arc<Node>, Reply, Outcome)>;

fn tally(results: Results) -> Tally {
    as_replies(results)
        .into_iter()
        .map(|(node, reply)| {
            let outcome = if !reply.is_error() {
                Outcome::Changed
            } else if is_not_found(&reply) {
                Outcome::Skipped
            } else {
                Outcome::Failed
            };
            (node, reply, outcome)
        })
        .collect()
}

fn any(tally: &Tally, wanted: Outcome) -> bool {
    tally.iter().any(|(_, _, outcome)| *outcome == wanted)
}

/// `changed` and `skipped` (node names) and `failed` (`{node: reason}`).
fn report(tally: &Tally) -> Map<String, Value> {
    let names = |wanted: Outcome| -> Value {
        tally.iter().filter(|(_, _, outcome)| *outcome == wanted).map(|(node, _, _)| node.name.clone()).collect()
    };
    let failed: Map<String, Value> = tally
        .iter()
        .filter(|(_, _, outcome)| *outcome == Outcome::Failed)
        .map(|(node, reply, _)| (node.name.clone(), reply.reason().unwrap_or("error").into()))
        .collect();
    let mut fields = Map::new();
    fields.insert("changed".into(), names(Outcome::Changed));
    fields.insert("skipped".into(), names(Outcome::Skipped));
    fields.insert("failed".into(), Value::Object(failed));
    fields
}

/// The replies of a tally, as `(node, reply)` pairs for [`failures`].
fn replies(tally: &Tally) -> Vec<(Arc<Node>, Reply)> {
    tally.iter().map(|(node, reply, _)| (node.clone(), reply.clone())).collect()
}

/// Adds `fields` to `reply` before its `id`, which stays last as in every Circus reply.
fn extend(reply: &mut Reply, fields: Map<String, Value>) {
    let id = reply.0.remove("id");
    reply.0.extend(fields);
    if let Some(id) = id {
        reply.0.insert("id".into(), id);
    }
}

/// An arbiter-wide change (`start`/`stop`/`restart`/`reload` with no name) sent to every
/// node: a bare ok as circusd gives, with the per-node report; an error only when no node
/// changed anything.
pub fn merged(results: Results) -> Reply {
    let tally = tally(results);
    if !any(&tally, Outcome::Changed) {
        return failures(&replies(&tally)).unwrap_or_else(|| ok(Map::new()));
    }
    ok(report(&tally))
}

/// start/stop/restart of a watcher pattern on several nodes. Nodes where the pattern matches
/// nothing answer "not found" and are skipped; a single hit returns that node's reply (with
/// `info` when waiting), several a bare ok, as circusd does for several watchers; both with
/// the per-node report.
pub async fn pattern(ctx: &Ctx, mut request: Request, nodes: &[Arc<Node>], watcher: &str, full: &str) -> Reply {
    request.properties.insert("name".into(), Value::String(watcher.to_string()));
    let tally = tally(gather(ctx, nodes, &request).await);
    let changed: Vec<&Reply> =
        tally.iter().filter(|(_, _, outcome)| *outcome == Outcome::Changed).map(|(_, reply, _)| reply).collect();
    let mut reply = match changed.as_slice() {
        [] => {
            let others: Vec<_> = replies(&tally).into_iter().filter(|(_, reply)| !is_not_found(reply)).collect();
            if let Some(failed) = failures(&others) {
                return failed;
            }
            let reason = if tally.is_empty() {
                format!("program {full} not found: no nodes")
            } else {
                format!("program {full} not found")
            };
            return error(Errno::MessageError, &reason);
        }
        [one] => (*one).clone(),
        _ => ok(Map::new()),
    };
    extend(&mut reply, report(&tally));
    reply
}

/// A request sent to each of `nodes` (a node-set expression), answered with every node's reply
/// under `replies` (without their upstream ids).
///
/// A read is `ok` when every node that answered succeeded; nodes that gave no answer are left
/// out of `replies` and named in `missing` (with `merged_reads = "strict"`, or when no node
/// answered, they fail it). A change is `ok` when any node changed, with the per-node report.
/// Otherwise the reply is an errno 5 error whose reason counts and names the failed nodes.
pub async fn gathered(ctx: &Ctx, nodes: &[Arc<Node>], request: Request) -> Reply {
    let results = gather(ctx, nodes, &request).await;
    let total = results.len();
    let read = is_read_only(&request.command);
    let (results, missing): (Results, Vec<partial::Missing>) = if read && partial_allowed(ctx, &results) {
        let (answered, missing) = results.into_iter().partition(|(_, result)| result.is_ok());
        (answered, missing.into_iter().filter_map(|(node, result)| result.err().map(|err| (node, err))).collect())
    } else {
        (results, Vec::new())
    };
    let tally = tally(results);
    let mut fields = Map::new();
    let all_replies: Map<String, Value> = tally
        .iter()
        .map(|(node, reply, _)| {
            let mut reply = reply.0.clone();
            reply.remove("id");
            (node.name.clone(), Value::Object(reply))
        })
        .collect();
    fields.insert("replies".into(), Value::Object(all_replies));
    let succeeded = if read {
        !any(&tally, Outcome::Failed) && !any(&tally, Outcome::Skipped)
    } else {
        fields.extend(report(&tally));
        any(&tally, Outcome::Changed)
    };
    if !missing.is_empty() {
        fields.insert("missing".into(), partial::missing_field(&missing));
    }
    let mut reply = if succeeded {
        ok(Map::new())
    } else {
        let failed = failures(&replies(&tally)).unwrap_or_else(|| ok(Map::new()));
        let count = tally.iter().filter(|(_, reply, _)| reply.is_error()).count();
        let reason = format!("{count} of {total} nodes failed: {}", failed.reason().unwrap_or_default());
        error(Errno::CommandError, &reason)
    };
    extend(&mut reply, fields);
    reply
}

/// circusd's errno 3 `program X not found`.
fn is_not_found(reply: &Reply) -> bool {
    reply.errno() == Some(3) && reply.reason().is_some_and(|r| r.starts_with("program ") && r.ends_with("not found"))
}
