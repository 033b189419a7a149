//! `clusterctl --node EXPR run NAME ... -- CMD ARGS...`: a one-shot job on every node of a set.
//!
//! Sequence:
//! 1. `nodeset {"expr"}` resolves the set; `globaloptions` gives the master's event stream,
//!    subscribed to `watcher.<node>:<watcher>.` for every node before anything starts;
//! 2. `add` (gathered over the set) creates the temporary watcher, not started
//!    ([`crate::commands::run::add_request`]); its `add` events coming back on the stream prove
//!    that the subscription is live (a ZeroMQ subscription takes effect some time after
//!    `connect`, and a job that exits at once would otherwise have its `reap` missed); then
//!    `start` starts it on every node;
//! 3. events (`spawn`, `reap`, `stop`) and a `list <watcher>` poll every second settle each node
//!    ([`state`]), until none is running, the job timeout passes, or Ctrl-C / SIGTERM;
//! 4. the output of the nodes where the job ran, asked of their log agents ([`output`]);
//! 5. `rm` (stopping what still runs) on every node, whatever happened;
//! 6. the outputs and the outcomes, grouped ([`report`]).

pub mod output;
pub mod report;
pub mod state;

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::sleep;
use std::time::{Duration, Instant};

use clusterd_protocol::connection::Subscriber;

use crate::commands::run::{add_request, list_request, rm_request, sh_quote, start_request, watcher_name, RunArgs};
use crate::error::{exit, CtlError};
use crate::fold::fold;
use crate::master::{call_nodes, pubsub_endpoint, resolve_or_report, Master};
use state::Job;

/// Longest wait for the `add` events that prove the subscription live; past it the job starts
/// anyway, and events missed are made up for by polling (exit codes then unknown).
const SUBSCRIBE_PROOF: Duration = Duration::from_secs(3);
/// Longest wait for an event before checking the clock and the signals.
const SLICE: Duration = Duration::from_millis(200);
/// Interval of the `list` polls.
const POLL_EVERY: Duration = Duration::from_secs(1);

/// Runs the job on the nodes `expr` selects and prints the outcomes; returns the exit status.
///
/// # Errors
/// The master could not be reached to resolve the set ([`CtlError::Transport`]), the event
/// stream endpoint is unusable, or writing failed. Failures on nodes are outcomes, not errors.
pub fn run(
    master: &dyn Master,
    expr: &str,
    args: &RunArgs,
    json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, CtlError> {
    let Some(nodes) = resolve_or_report(master, expr, err)? else {
        return Ok(exit::ERROR_REPLY);
    };
    let watcher = watcher_name(&args.name);
    let topics: Vec<String> = nodes.iter().map(|node| format!("watcher.{node}:{watcher}.")).collect();
    let events = Subscriber::connect(&pubsub_endpoint(master), &topics)?;
    let stop = Arc::new(AtomicBool::new(false));
    // The first signal asks for a clean stop, a second one during the clean-up exits at once.
    // If a handler cannot be installed, that signal simply kills us as before.
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let _ = signal_hook::flag::register_conditional_shutdown(signal, report::INTERRUPTED, Arc::clone(&stop));
        let _ = signal_hook::flag::register(signal, Arc::clone(&stop));
    }
    if !json {
        let command: Vec<String> = args.command.iter().map(|part| sh_quote(part)).collect();
        writeln!(out, "== {watcher} on {} ({}): {}", fold(&nodes), nodes.len(), command.join(" "))?;
        out.flush()?;
    }
    let mut job = Job::new(&watcher, &nodes);
    job.on_added(&call_nodes(master, &add_request(&watcher, args), &nodes), Instant::now());
    await_add_events(&mut job, &events, &watcher)?;
    let running = job.running();
    if !running.is_empty() {
        job.on_added(&call_nodes(master, &start_request(&watcher), &running), Instant::now());
    }
    let interrupted = follow(master, &mut job, &events, args.job_timeout, &stop, err)?;
    let outcomes = job.outcomes();
    // Before `rm`: the agent reads the files of a watcher circusd still knows.
    let ran: Vec<String> =
        outcomes.iter().filter(|(_, outcome)| outcome.duration().is_some()).map(|(node, _)| node.clone()).collect();
    let outputs = output::gather(master, &watcher, &ran);
    remove(master, &job, &nodes, err)?;
    let lines = if json {
        report::json_lines(&outcomes, &outputs)
    } else {
        let (text, warnings) = outputs.console();
        out.write_all(text.as_bytes())?;
        err.write_all(warnings.as_bytes())?;
        report::summary_lines(&outcomes)
    };
    for line in lines {
        writeln!(out, "{line}")?;
    }
    Ok(report::exit_code(&outcomes, interrupted))
}

/// Reads the stream until every node where the watcher was added has sent its `add` event
/// (the subscription is then live), or [`SUBSCRIBE_PROOF`] has passed.
fn await_add_events(job: &mut Job, events: &Subscriber, watcher: &str) -> Result<(), CtlError> {
    let mut waiting: Vec<String> = job.running().iter().map(|node| format!("watcher.{node}:{watcher}.add")).collect();
    let deadline = Instant::now() + SUBSCRIBE_PROOF;
    while !waiting.is_empty() && Instant::now() < deadline {
        let Some(frames) = events.recv_timeout(SLICE)? else { continue };
        let topic = String::from_utf8_lossy(frames.first().map_or(&[][..], Vec::as_slice)).into_owned();
        waiting.retain(|expected| *expected != topic);
    }
    Ok(())
}

/// Follows events and polls until no node is running, the timeout, or a signal (returns true
/// for the signal).
fn follow(
    master: &dyn Master,
    job: &mut Job,
    events: &Subscriber,
    timeout: Option<Duration>,
    stop: &AtomicBool,
    err: &mut dyn Write,
) -> Result<bool, CtlError> {
    let deadline = timeout.map(|timeout| Instant::now() + timeout);
    let mut listening = true;
    let mut last_poll = Instant::now();
    while !job.running().is_empty() {
        let now = Instant::now();
        if stop.load(Ordering::Relaxed) {
            job.stop_running(now, false);
            return Ok(true);
        }
        if deadline.is_some_and(|deadline| now >= deadline) {
            job.stop_running(now, true);
            break;
        }
        if listening {
            match events.recv_timeout(SLICE) {
                Ok(Some(frames)) => {
                    let mut frames = frames.into_iter();
                    let topic = String::from_utf8_lossy(&frames.next().unwrap_or_default()).into_owned();
                    let payload: Vec<u8> = frames.flatten().collect();
                    job.on_event(&topic, &String::from_utf8_lossy(&payload), Instant::now());
                }
                Ok(None) => {}
                Err(failure) => {
                    writeln!(err, "warning: event stream failed ({failure}); exit codes will be unknown")?;
                    listening = false;
                }
            }
        } else {
            sleep(SLICE);
        }
        if last_poll.elapsed() >= POLL_EVERY {
            let running = job.running();
            if !running.is_empty() {
                job.on_poll(&call_nodes(master, &list_request(job.watcher()), &running), Instant::now());
            }
            last_poll = Instant::now();
        }
    }
    Ok(false)
}

/// Removes the watcher on every node (stopping a process still running) and warns where that
/// failed. Nodes that refused the `add` are left out, except those where it timed out: a node
/// that was only slow may still add the watcher later, so the warning says how to remove it.
fn remove(master: &dyn Master, job: &Job, nodes: &[String], err: &mut dyn Write) -> Result<(), CtlError> {
    let removed = call_nodes(master, &rm_request(job.watcher()), nodes);
    let outcomes = job.outcomes();
    let add_refused = |node: &str| {
        outcomes.iter().any(|(n, outcome)| {
            n == node
                && matches!(outcome, state::Outcome::FailedToStart { reason }
                    if !reason.contains("timed out") && !reason.starts_with("no reply"))
        })
    };
    let watcher = job.watcher();
    for reply in removed.replies.iter().filter(|reply| reply.failed() && !add_refused(&reply.node)) {
        let node = &reply.node;
        writeln!(
            err,
            "warning: could not remove watcher {watcher} on {node} ({}); if it is there, remove it with: \
             clusterctl --node {node} rm {watcher}",
            reply.reason()
        )?;
    }
    Ok(())
}
