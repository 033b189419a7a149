//! Rolling operations: `--batch N [--wait] [--keep-going]` with `--node EXPR`.
//!
//! The set is resolved once (`nodeset`), then the command goes to N nodes at a time (`node` =
//! the batch's comma list, a gathered reply back). With `--wait`, after each batch the command's
//! watcher is polled (`status <name>`) on the batch's nodes until each reports `active` (`stopped`
//! after `stop` or `add` without `--start`), within [`Roll::wait_bound`]. A batch in which any node
//! failed (its reply, or the wait) stops the roll unless `--keep-going`.
//!
//! Console output, per batch: `== batch 1/3: first (1)`, the batch's gathered output
//! ([`crate::gather`]), then with `--wait` `== waited: dummy active on first (1)` (stdout) and
//! `second (1): dummy not active after 30s (last status: stopped)` (stderr); after a failed batch
//! without `--keep-going`, `== stopped after batch 1/3 (--keep-going goes on)` on stderr. Last, a
//! summary: `done: first,third (2)`, `failed: ...`, `not reached: ...` (empty lines left out).
//! With `--json`: `{"batch": 1, "node": ..., "reply": {...}}` per node, `{"batch": 1, "node": ...,
//! "wait": {"status": "ok"|"error", ...}}` per waited node, then `{"summary": {"done": [...],
//! "failed": [...], "not_reached": [...]}}`.

mod wait;

use std::io::Write;
use std::time::Duration;

use clusterd_protocol::{pyjson, Request};
use serde_json::{json, Value};

use crate::commands::{Render, UsageError};
use crate::dispatch::Plan;
use crate::error::{exit, CtlError};
use crate::fold::fold;
use crate::gather::{ordered, render_console, Gathered};
use crate::global_args::GlobalArgs;
use crate::master::{call_nodes, Master};
pub use wait::{wait_for, wait_target, WaitTarget};

/// How long `--wait` waits per batch at least (the `--timeout` when larger).
pub const DEFAULT_WAIT_BOUND: Duration = Duration::from_secs(30);

/// How often `--wait` polls.
pub const POLL_EVERY: Duration = Duration::from_millis(500);

/// The roll's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roll {
    /// Nodes per batch (the whole set when `--batch` is not given).
    pub batch: usize,
    /// What to wait for after each batch.
    pub wait: Option<WaitTarget>,
    /// Go on after a failed batch.
    pub keep_going: bool,
    /// How long a batch's wait may last.
    pub wait_bound: Duration,
    /// Interval between two polls.
    pub poll_every: Duration,
}

/// The roll that the global options ask for, if any.
///
/// # Errors
/// The options do not fit: no `--node`, `--keep-going` without `--batch`, a command that is not
/// sent to nodes, or `--wait` on a command naming no single watcher.
pub fn settings(global: &GlobalArgs, plan: &Plan) -> Result<Option<Roll>, UsageError> {
    if global.batch.is_none() && !global.wait && !global.keep_going {
        return Ok(None);
    }
    let Plan::Call { request, .. } = plan else {
        return Err(UsageError::new("--batch, --wait and --keep-going only apply to commands sent to nodes"));
    };
    if global.node.is_none() {
        return Err(UsageError::new("--batch and --wait need --node EXPR"));
    }
    if global.keep_going && global.batch.is_none() {
        return Err(UsageError::new("--keep-going needs --batch"));
    }
    let wait = if global.wait { Some(wait_target(request)?) } else { None };
    Ok(Some(Roll {
        batch: global.batch.map_or(usize::MAX, |size| usize::try_from(size).unwrap_or(usize::MAX)),
        wait,
        keep_going: global.keep_going,
        wait_bound: DEFAULT_WAIT_BOUND.max(global.timeout),
        poll_every: POLL_EVERY,
    }))
}

/// `nodes` cut into batches of `size` (at least 1), in order.
pub fn batches(nodes: &[String], size: usize) -> Vec<Vec<String>> {
    nodes.chunks(size.max(1)).map(<[String]>::to_vec).collect()
}

/// Where every node ended up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// The command (and the wait) succeeded.
    pub done: Vec<String>,
    /// The command or the wait failed.
    pub failed: Vec<String>,
    /// The roll stopped before their batch.
    pub not_reached: Vec<String>,
}

impl Summary {
    /// `done: a,b (2)`, `failed: ...`, `not reached: ...`, leaving out empty ones.
    pub fn lines(&self) -> Vec<String> {
        [("done", &self.done), ("failed", &self.failed), ("not reached", &self.not_reached)]
            .into_iter()
            .filter(|(_, nodes)| !nodes.is_empty())
            .map(|(label, nodes)| format!("{label}: {} ({})", fold(nodes), nodes.len()))
            .collect()
    }

    /// `{"summary": {"done": [...], "failed": [...], "not_reached": [...]}}`.
    pub fn json(&self) -> String {
        let summary = json!({ "done": self.done, "failed": self.failed, "not_reached": self.not_reached });
        pyjson::dumps(&json!({ "summary": summary }))
    }

    /// 0 when every node is done, else 3.
    pub fn exit_code(&self) -> i32 {
        if self.failed.is_empty() && self.not_reached.is_empty() {
            exit::OK
        } else {
            exit::ERROR_REPLY
        }
    }
}

/// How the roll prints.
pub struct Output<'a> {
    /// The command's console renderer.
    pub render: Render,
    /// `--json`.
    pub json: bool,
    /// Standard output.
    pub out: &'a mut dyn Write,
    /// Standard error.
    pub err: &'a mut dyn Write,
}

/// Runs `request` over `nodes` batch by batch, printing as it goes.
///
/// # Errors
/// Writing the output failed; failures of nodes are in the summary.
pub fn roll(
    master: &dyn Master,
    request: &Request,
    nodes: &[String],
    roll: &Roll,
    output: &mut Output<'_>,
) -> Result<Summary, CtlError> {
    let batches = batches(nodes, roll.batch);
    let mut summary = Summary::default();
    for (index, batch) in batches.iter().enumerate() {
        let label = format!("{}/{}", index + 1, batches.len());
        if !output.json {
            writeln!(output.out, "== batch {label}: {} ({})", fold(batch), batch.len())?;
        }
        let gathered = call_nodes(master, request, batch);
        print_batch(&gathered, index + 1, output)?;
        let (mut ok, mut failed): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
        for reply in &gathered.replies {
            if reply.failed() { &mut failed } else { &mut ok }.push(reply.node.clone());
        }
        if let (Some(target), false) = (&roll.wait, ok.is_empty()) {
            let results = wait_for(master, target, &ok, roll);
            print_wait(target, &results, index + 1, output)?;
            ok.retain(|node| results.iter().any(|(done, result)| done == node && result.is_ok()));
            failed.extend(results.into_iter().filter(|(_, result)| result.is_err()).map(|(node, _)| node));
        }
        let batch_failed = !failed.is_empty();
        summary.done.extend(ok);
        summary.failed.extend(failed);
        if batch_failed && !roll.keep_going && index + 1 < batches.len() {
            summary.not_reached.extend(batches[index + 1..].iter().flatten().cloned());
            if !output.json {
                writeln!(output.err, "== stopped after batch {label} (--keep-going goes on)")?;
            }
            break;
        }
    }
    if output.json {
        writeln!(output.out, "{}", summary.json())?;
    } else {
        writeln!(output.out, "== summary")?;
        for line in summary.lines() {
            writeln!(output.out, "{line}")?;
        }
    }
    Ok(summary)
}

/// One batch's replies: the gathered console, or JSON lines tagged with the batch number.
fn print_batch(gathered: &Gathered, batch: usize, output: &mut Output<'_>) -> Result<(), CtlError> {
    if output.json {
        for reply in &gathered.replies {
            let value = json!({ "batch": batch, "node": reply.node, "reply": Value::Object(reply.reply.0.clone()) });
            writeln!(output.out, "{}", pyjson::dumps(&value))?;
        }
        return Ok(());
    }
    let console = render_console(gathered, output.render);
    output.out.write_all(console.out.as_bytes())?;
    output.out.flush()?;
    output.err.write_all(console.err.as_bytes())?;
    Ok(())
}

/// The wait's outcome: nodes that got there on stdout, the others grouped by reason on stderr.
fn print_wait(
    target: &WaitTarget,
    results: &[(String, Result<(), String>)],
    batch: usize,
    output: &mut Output<'_>,
) -> Result<(), CtlError> {
    if output.json {
        for (node, result) in results {
            let wait = match result {
                Ok(()) => json!({ "status": "ok", "state": target.state }),
                Err(reason) => json!({ "status": "error", "reason": reason }),
            };
            writeln!(output.out, "{}", pyjson::dumps(&json!({ "batch": batch, "node": node, "wait": wait })))?;
        }
        return Ok(());
    }
    let reached: Vec<String> = results.iter().filter(|(_, r)| r.is_ok()).map(|(node, _)| node.clone()).collect();
    if !reached.is_empty() {
        let (watcher, state) = (&target.watcher, target.state);
        writeln!(output.out, "== waited: {watcher} {state} on {} ({})", fold(&reached), reached.len())?;
    }
    let mut failures: Vec<(&str, Vec<String>)> = Vec::new();
    for (node, result) in results {
        if let Err(reason) = result {
            match failures.iter_mut().find(|(seen, _)| seen == reason) {
                Some((_, nodes)) => nodes.push(node.clone()),
                None => failures.push((reason, vec![node.clone()])),
            }
        }
    }
    for (reason, nodes) in ordered(failures) {
        writeln!(output.err, "{} ({}): {reason}", fold(&nodes), nodes.len())?;
    }
    output.out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests;
