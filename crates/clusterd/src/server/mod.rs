//! The command endpoint: a ROUTER that speaks Circus's protocol.
//!
//! Message flow:
//! 1. a client sends `[json]` from a DEALER; the ROUTER receives `[identity, json]`;
//! 2. the frame is decoded; a malformed one is answered at once with errno 1 or 3 (circusd
//!    would stay silent and let the client time out), see [`requests`];
//! 3. a task is spawned per request ([`crate::handler::handle`]) so that slow nodes never
//!    hold up other clients;
//! 4. its reply comes back over a channel and is sent as `[identity, json]` from this loop,
//!    which alone owns the socket.
//!
//! REQ clients put an empty delimiter frame before the JSON; circusd ignores them, we answer
//! them with the delimiter restored so that they work too.
//!
//! Stopping (the `shutdown` future, or `quit`): new requests are refused with errno 3, those in
//! flight get up to [`SHUTDOWN_GRACE`] to finish and are then answered with an error, the state
//! file is written one last time, and the socket closes with a short linger so that the last
//! replies still leave.

mod requests;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use clusterd_protocol::connection::{CommandServer, ConnectionError, Context};
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{error, info, warn};

pub use requests::{RequestCounters, MAX_IN_FLIGHT, MAX_IN_FLIGHT_PER_CLIENT};

use crate::access::{self, Door};
use crate::config::Config;
use crate::learn::learn_streams_in_background;
use crate::registry::{Registry, Source};
use crate::state::{StateError, StateFile};
use crate::streams::Streams;
use crate::{lifecycle, Ctx};
pub(crate) use requests::InFlight;

/// How long a stopping master waits for the requests in flight. Below systemd's default stop
/// timeout (90 s) and `waiting_timeout`: a `waiting` request still running after it is failed.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How long the closed command socket keeps trying to deliver the last replies.
const CLOSE_LINGER: Duration = Duration::from_secs(1);

/// Why the master could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// An endpoint could not be bound or connected.
    #[error(transparent)]
    Connection(#[from] ConnectionError),
    /// The state file cannot be used.
    #[error(transparent)]
    State(#[from] StateError),
    /// `http_endpoint` cannot be bound.
    #[error("http_endpoint: {0}")]
    Http(std::io::Error),
}

/// Runs the master until `shutdown` completes or a client sends `quit`, then stops gracefully
/// (see the module docs).
///
/// # Errors
/// The command endpoint cannot be bound, or a node endpoint is refused by libzmq.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), ServeError> {
    // The command and read-only endpoints have libzmq contexts of their own, so their I/O
    // threads never wait behind node I/O (thousands of node sockets keep theirs busy, and
    // libzmq would block an I/O thread resolving a host name on reconnect).
    let zmq = Context::new();
    let clients_zmq = Context::new();
    let settings = config.cluster.clone();
    let mut server = CommandServer::bind(&clients_zmq, settings.endpoint.as_str())?;
    let streams =
        Streams::start(&zmq, &settings.stats_endpoint, &settings.pubsub_endpoint, settings.max_stream_message_size)?;
    let registry = Registry::new(zmq.clone(), lifecycle::probe_policy(&settings), streams);
    for spec in config.nodes {
        let (node, _) = registry.insert(spec, Source::Config)?;
        learn_streams_in_background(&node, settings.node_timeout);
    }
    let ctx = Arc::new(Ctx::new(settings.clone(), config.path.clone(), registry));
    let state = settings.state_file.as_deref().map(StateFile::new);
    if let Some(state) = &state {
        lifecycle::restore(&ctx, state)?;
        crate::placement::start(&ctx, &state.load_placements()?);
        tokio::spawn(lifecycle::persist(ctx.clone(), state.clone()));
    }
    if state.is_none() {
        crate::placement::start(&ctx, &serde_json::Value::Null);
    }
    tokio::spawn(lifecycle::reap(ctx.clone()));
    tokio::spawn(crate::discovery::run(ctx.clone()));
    let _readonly = access::readonly::start(&clients_zmq, &ctx)?;
    // Dropped when this function returns: every open event stream ends then.
    let _http = crate::http::start(&ctx).map_err(ServeError::Http)?;
    access::warn_if_remote(&settings);
    let mut hangups = signal(SignalKind::hangup()).ok();
    info!(endpoint = %settings.endpoint, nodes = ctx.registry.names().len(), "clusterd ready");

    let (done_tx, mut done) = mpsc::unbounded_channel();
    let mut requests = InFlight::new(ctx.clone(), done_tx, Door::Command);
    // Set once stopping: when the requests in flight are given up on.
    let mut deadline: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown, if deadline.is_none() => deadline = Some(stopping(&requests)),
            Some(()) = recv_hangup(&mut hangups), if deadline.is_none() => match lifecycle::reload(&ctx) {
                Ok(_) => {}
                Err(reason) => warn!(reason, "SIGHUP: the running configuration stays in force"),
            },
            frames = server.recv() => match frames {
                Ok(frames) => requests.dispatch(&server, frames, deadline.is_none()),
                Err(err) => {
                    error!(cause = %err, "command endpoint receive failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(finished) = done.recv() => {
                requests.finish(&server, &finished);
                if finished.quit && deadline.is_none() {
                    info!("quit requested by a client");
                    deadline = Some(stopping(&requests));
                }
            }
            _ = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                warn!(grace = ?SHUTDOWN_GRACE, "requests still in flight after the grace period: answered with an error");
                requests.abandon_all(&server, "master shutting down: the request did not finish in time");
                break;
            }
        }
        if deadline.is_some() && requests.is_empty() {
            break;
        }
    }
    if let Some(state) = &state {
        lifecycle::flush(ctx.clone(), state).await;
    }
    // Node sockets close before the master's own (see Registry::close_all); the aborted link
    // and feed tasks drop their sockets as the runtime gets to them.
    ctx.registry.close_all();
    tokio::task::yield_now().await;
    server.close(CLOSE_LINGER);
    info!("clusterd stopped");
    Ok(())
}

/// Logs the start of a graceful stop and returns when the requests in flight are given up on.
fn stopping(requests: &InFlight) -> Instant {
    info!(grace = ?SHUTDOWN_GRACE, in_flight = requests.len(), "stopping: new requests are refused");
    Instant::now() + SHUTDOWN_GRACE
}

/// The next SIGHUP; never, when its handler could not be installed.
async fn recv_hangup(hangups: &mut Option<Signal>) -> Option<()> {
    match hangups {
        Some(hangups) => hangups.recv().await,
        None => std::future::pending().await,
    }
}
