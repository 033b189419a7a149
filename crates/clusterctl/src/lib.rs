//! `clusterctl`, a drop-in for Circus's `circusctl` that also drives a clusterd master.
//!
//! * [`cli`]: the command line (clap); global options may appear anywhere.
//! * [`commands`]: per command, the request circusctl would send and its console rendering.
//! * the transport is the protocol crate's [`Client`] (one round trip, the request encoded
//!   exactly as circusctl encodes it) and [`Subscriber`](clusterd_protocol::connection::Subscriber)
//!   (`listen`, `top`).
//! * [`pyjson`], [`pystr`]: Python-identical JSON and `str()` formatting.
//! * [`error`]: failures and exit statuses (0 ok, 1 timeout/transport, 2 usage, 3 error reply,
//!   4 partial result).
//! * [`endpoint`]: endpoints checked before use, and the stream endpoints learnt from the master.
//! * [`streams`]: `listen` and `top` set up from the command endpoint.
//! * [`top`]: the `top` stats viewer (ratatui).
//! * [`manual`]: shell completions and man pages, generated from [`cli`].
//! * [`logs`]: `logs`, watcher output of every node (history, `-f`, `--to DIR`).
//! * [`agent`]: `join`, the node agent: the worker-side loop that registers a circusd with the master.
//! * [`commands::watch_nodes`]: `watch-nodes`, a file rendered from a template over the nodes,
//!   kept up to date from the master's `cluster.*` events (docs/watch-nodes.md).
//! * node sets: [`master`] (resolving a set, per-node replies), [`gather`] (printing them like
//!   `clush -b`), [`fold`] (node lists), [`rolling`] (`--batch`, `--wait`, `--keep-going`) and
//!   [`job`] (`run`, one-shot jobs).
//!
//! [`run`] is the whole program; [`run_with`] takes the environment and the output streams so
//! that tests can drive it in-process.

// These docs are for contributors (`cargo doc --document-private-items`, checked by `make lint`):
// they point at private items on purpose.
#![allow(rustdoc::private_intra_doc_links)]

pub mod agent;
pub mod cli;
pub mod commands;
pub mod dispatch;
mod duration;
pub mod endpoint;
pub mod error;
pub mod fold;
pub mod gather;
pub mod global_args;
mod help;
pub mod job;
pub mod logs;
pub mod manual;
pub mod master;
pub mod partial;
pub mod pystr;
pub mod rolling;
mod streams;
pub mod top;

use std::ffi::OsString;
use std::io::{self, Write};

use clusterd_protocol::connection::{Client, ConnectionError};
use clusterd_protocol::{pyjson, Reply, DEFAULT_MASTER_ENDPOINT};
use serde_json::Value;

use crate::commands::Render;
use crate::dispatch::Plan;
use crate::error::{exit, CtlError};
use crate::gather::Gathered;
use crate::global_args::{GlobalArgs, ENDPOINT_ENV};
use crate::master::resolve_or_report;

/// Runs clusterctl with `args` (program name first) on the real stdout and stderr, reading
/// `CLUSTERCTL_ENDPOINT`; returns the exit status.
pub fn run<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let env_endpoint = std::env::var(ENDPOINT_ENV).ok().filter(|endpoint| !endpoint.is_empty());
    let (stdout, stderr) = (io::stdout(), io::stderr());
    run_with(args, env_endpoint, &mut stdout.lock(), &mut stderr.lock())
}

/// Runs clusterctl with an explicit default endpoint (the environment's) and output streams.
pub fn run_with<I, T>(args: I, env_endpoint: Option<String>, out: &mut dyn Write, err: &mut dyn Write) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let code = match execute(args, env_endpoint, out, err) {
        Ok(code) => code,
        Err(error) => report(&error, out, err),
    };
    // Nothing useful is left to do if flushing fails: the status is already decided.
    let _ = out.flush();
    let _ = err.flush();
    code
}

/// Parses, sends and prints; returns the exit status of a completed call.
fn execute<I, T>(
    args: I,
    env_endpoint: Option<String>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, CtlError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let parsed = cli::parse(args).map_err(CtlError::Usage)?;
    let global = &parsed.cli.global;
    let usage = |usage: commands::UsageError| CtlError::Usage(cli::usage_error(&parsed.name, &usage.0));
    let plan = dispatch::plan(&parsed.cli.command).map_err(usage)?;
    let roll = rolling::settings(global, &plan).map_err(usage)?;
    if let Plan::Completions(shell) = &plan {
        manual::completions(*shell, out);
        return Ok(exit::OK);
    }
    if let Plan::Join(args) = &plan {
        // join reads its master from the worker's ini: --endpoint does not apply.
        return match agent::run(args, err) {
            Ok(()) => Ok(exit::OK),
            Err(config) => {
                writeln!(err, "error: {config}")?;
                Ok(exit::USAGE)
            }
        };
    }
    let endpoint = command_endpoint(global, env_endpoint)?;
    // circusctl's `Timed out.` names neither the endpoint nor the likely cause.
    let no_answer = |error: CtlError| match error {
        CtlError::Transport(ConnectionError::Timeout) => {
            CtlError::NoAnswer { endpoint: endpoint.clone(), timeout: global.timeout }
        }
        other => other,
    };
    run_plan(plan, roll, &endpoint, global, out, err).map_err(no_answer)
}

/// The command endpoint: `--endpoint`, else `CLUSTERCTL_ENDPOINT`, else the default; checked.
///
/// # Errors
/// [`CtlError::BadEndpoint`] naming where the bad endpoint came from.
fn command_endpoint(global: &GlobalArgs, env_endpoint: Option<String>) -> Result<String, CtlError> {
    match (&global.endpoint, env_endpoint) {
        (Some(endpoint), _) => endpoint::check("--endpoint", endpoint).map(|()| endpoint.clone()),
        (None, Some(endpoint)) => endpoint::check(ENDPOINT_ENV, &endpoint).map(|()| endpoint),
        (None, None) => Ok(DEFAULT_MASTER_ENDPOINT.into()),
    }
}

/// Runs a planned command against the command endpoint `endpoint`.
fn run_plan(
    plan: Plan,
    roll: Option<rolling::Roll>,
    endpoint: &str,
    global: &GlobalArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, CtlError> {
    match (plan, roll) {
        (Plan::Call { request, render }, Some(roll)) => {
            let client = Client::connect(endpoint, global.timeout)?;
            let Some(nodes) = resolve_or_report(&client, global.node.as_deref().unwrap_or("all"), err)? else {
                return Ok(exit::ERROR_REPLY);
            };
            let mut output = rolling::Output { render, json: global.json, out, err };
            Ok(rolling::roll(&client, &request, &nodes, &roll, &mut output)?.exit_code())
        }
        (Plan::Listen { topics, pubsub_endpoint }, _) => {
            streams::listen(endpoint, pubsub_endpoint.as_ref(), &topics, global, out, err)
        }
        (Plan::Top(args), _) => streams::top(endpoint, &args, global, err),
        (Plan::WatchNodes(args), _) => commands::watch_nodes::run(endpoint, &args, global, out, err),
        (Plan::Join(_) | Plan::Completions(_), _) => {
            unreachable!("run before the command endpoint is read")
        }
        (Plan::Dashboard(args), _) => {
            let client = Client::connect(endpoint, global.timeout)?;
            let reply = client.call(&commands::request("globaloptions", serde_json::json!({})))?;
            match commands::dashboard::url(&reply, endpoint) {
                Ok(url) => {
                    writeln!(out, "{url}")?;
                    if args.open {
                        // The browser outlives us; xdg-open itself returns at once.
                        if let Err(cause) = std::process::Command::new("xdg-open").arg(&url).spawn() {
                            writeln!(err, "error: cannot run xdg-open: {cause}")?;
                            return Ok(exit::ERROR_REPLY);
                        }
                    }
                    Ok(exit::OK)
                }
                Err(reason) => {
                    writeln!(err, "error: {reason}")?;
                    Ok(exit::ERROR_REPLY)
                }
            }
        }
        (Plan::Logs(args), _) => {
            let client = Client::connect(endpoint, global.timeout)?;
            logs::run(&client, global.node.as_deref(), &args, global.json, out, err)
        }
        (Plan::Run(args), _) => {
            let client = Client::connect(endpoint, global.timeout)?;
            job::run(&client, global.node.as_deref().unwrap_or("all"), &args, global.json, out, err)
        }
        (Plan::Call { mut request, render }, None) => {
            if let Some(node) = &global.node {
                request.properties.insert("node".into(), Value::String(node.clone()));
            }
            let client = Client::connect(endpoint, global.timeout)?;
            let reply = client.call(&request)?;
            let gathered = Gathered::from_reply(&reply);
            let code = match &gathered {
                Some(gathered) => gather::print(&reply, gathered, render, global.json, global.prettify, out, err),
                None => print_reply(&reply, render, global, out, err),
            }?;
            Ok(partial::report(&reply, code, gathered.is_some(), err)?)
        }
    }
}

/// circusctl's `_console`: the JSON with `--json` (status 0 whatever the reply), else the
/// command's rendering, on stderr with status 3 for an error reply.
fn print_reply(
    reply: &Reply,
    render: Render,
    global: &GlobalArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, CtlError> {
    if global.json {
        let value = Value::Object(reply.0.clone());
        let text = if global.prettify { pyjson::dumps_pretty(&value) } else { pyjson::dumps(&value) };
        writeln!(out, "{text}")?;
        return Ok(exit::OK);
    }
    if !reply.0.contains_key("status") {
        return Err(CtlError::Malformed("missing 'status'".into()));
    }
    let text = render(reply).map_err(|malformed| CtlError::Malformed(malformed.0))?;
    // A reply can succeed and still carry a warning (register_node of a node that does not
    // answer yet): on stderr, so that stdout stays the result.
    for warning in commands::warnings(reply) {
        writeln!(err, "warning: {warning}")?;
    }
    if reply.is_error() {
        writeln!(err, "{text}")?;
        Ok(exit::ERROR_REPLY)
    } else {
        writeln!(out, "{text}")?;
        Ok(exit::OK)
    }
}

/// Prints why the run failed and returns its exit status.
fn report(error: &CtlError, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let written = match error {
        CtlError::Usage(usage) if !usage.use_stderr() => write!(out, "{}", usage.render()),
        CtlError::Usage(usage) => write!(err, "{}", usage.render()),
        CtlError::Io(io) if io.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => writeln!(err, "error: {other}"),
    };
    match written {
        Err(io) if io.kind() != io::ErrorKind::BrokenPipe => exit::FAILURE,
        _ => error.exit_code(),
    }
}
