//! `listen` and `top` set up like every other subcommand: the command endpoint (`--endpoint`,
//! `CLUSTERCTL_ENDPOINT`, default) is asked for the merged stream endpoints (`globaloptions`)
//! and for the `--node` set (`nodeset`); `--pubsub-endpoint` / `--stats-endpoint` name a stream
//! directly. A command endpoint that never answers fails within `--timeout` (the caller turns
//! the timeout into `no answer from ...`), instead of a subscription that waits forever.

use std::io::Write;

use clusterd_protocol::connection::Client;

use crate::commands::listen;
use crate::endpoint::{self, StreamEndpoints};
use crate::error::{exit, CtlError};
use crate::global_args::GlobalArgs;
use crate::master::resolve_or_report;
use crate::top;

/// What a stream command needs from the master.
struct Setup {
    /// The stream to read: the explicit one, else the one the master names.
    stream: String,
    /// The nodes of `--node`, when given.
    nodes: Option<Vec<String>>,
}

/// Checks `explicit`, then asks the master at `endpoint` only what it must: the node set when
/// `--node` is given, the stream when none is explicit. `None` when the node set was refused
/// (already reported on `err`).
fn setup(
    endpoint: &str,
    explicit: Option<(&str, &String)>,
    pick: fn(StreamEndpoints) -> String,
    global: &GlobalArgs,
    err: &mut dyn Write,
) -> Result<Option<Setup>, CtlError> {
    if let Some((option, stream)) = explicit {
        endpoint::check(option, stream)?;
        if global.node.is_none() {
            return Ok(Some(Setup { stream: stream.clone(), nodes: None }));
        }
    }
    let client = Client::connect(endpoint, global.timeout)?;
    let nodes = match &global.node {
        None => None,
        Some(expr) => match resolve_or_report(&client, expr, err)? {
            Some(nodes) => Some(nodes),
            None => return Ok(None),
        },
    };
    let stream = match explicit {
        Some((_, stream)) => stream.clone(),
        None => pick(endpoint::learn_streams(&client, endpoint)?),
    };
    Ok(Some(Setup { stream, nodes }))
}

/// `listen`: prints the events of the master's merged stream (or of `--pubsub-endpoint`),
/// only those of the `--node` set when given.
///
/// # Errors
/// A bad endpoint, no answer from the master, a socket failure or a closed stdout.
pub fn listen(
    endpoint: &str,
    explicit: Option<&String>,
    topics: &[String],
    global: &GlobalArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, CtlError> {
    let explicit = explicit.map(|stream| ("--pubsub-endpoint", stream));
    let Some(setup) = setup(endpoint, explicit, |streams| streams.pubsub, global, err)? else {
        return Ok(exit::ERROR_REPLY);
    };
    listen::run(&setup.stream, topics, setup.nodes.as_deref(), global.json, out)?;
    Ok(exit::OK)
}

/// `top`: the viewer on the master's merged stats (or on `--stats-endpoint`), only the
/// `--node` set when given; node states are polled from `endpoint`.
///
/// # Errors
/// A bad endpoint, no answer from the master, or a terminal failure.
pub fn top(endpoint: &str, args: &top::TopArgs, global: &GlobalArgs, err: &mut dyn Write) -> Result<i32, CtlError> {
    let explicit = args.stats_endpoint.as_ref().map(|stream| ("--stats-endpoint", stream));
    let Some(setup) = setup(endpoint, explicit, |streams| streams.stats, global, err)? else {
        return Ok(exit::ERROR_REPLY);
    };
    let config = top::Config {
        stats: setup.stream,
        master: Some(endpoint.to_string()),
        nodes: setup.nodes,
        process_timeout: args.process_timeout,
    };
    top::run(&config)?;
    Ok(exit::OK)
}
