//! The command endpoint: a ROUTER that speaks Circus's protocol.
//!
//! Message flow:
//! 1. a client sends `[json]` from a DEALER; the ROUTER receives `[identity, json]`;
//! 2. the frame is decoded; a malformed one is answered at once with errno 1 or 3 (circusd
//!    would stay silent and let the client time out);
//! 3. a task is spawned per request ([`crate::handler::handle`]) so that slow nodes never
//!    hold up other clients;
//! 4. its reply comes back over a channel and is sent as `[identity, json]` from this loop,
//!    which alone owns the socket.
//!
//! REQ clients put an empty delimiter frame before the JSON; circusd ignores them, we answer
//! them with the delimiter restored so that they work too.

use std::future::Future;
use std::sync::Arc;

use clusterd_protocol::connection::{CommandServer, ConnectionError, Context};
use clusterd_protocol::message::{Reply, Request};
use clusterd_protocol::Errno;
use serde_json::Value;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::mpsc;
use tracing::{debug, error, info, warn};

use crate::access::{self, Door};
use crate::config::Config;
use crate::registry::{learn_pubsub_in_background, Registry, Source};
use crate::state::{StateError, StateFile};
use crate::streams::Streams;
use crate::{lifecycle, Ctx};

/// Why the master could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// An endpoint could not be bound or connected.
    #[error(transparent)]
    Connection(#[from] ConnectionError),
    /// The state file cannot be used.
    #[error(transparent)]
    State(#[from] StateError),
}

/// A reply on its way out: the envelope frames (identity, and an empty delimiter for REQ
/// clients), the JSON body (none for a cast), and whether the master quits once it is sent.
pub(crate) struct Outgoing {
    pub(crate) envelope: Vec<Vec<u8>>,
    pub(crate) body: Option<Vec<u8>>,
    pub(crate) then_quit: bool,
}

/// Runs the master until `shutdown` completes or a client sends `quit`.
///
/// # Errors
/// The command endpoint cannot be bound, or a node endpoint is refused by libzmq.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), ServeError> {
    let zmq = Context::new();
    let settings = config.cluster.clone();
    let mut server = CommandServer::bind(&zmq, settings.endpoint.as_str())?;
    let streams = Streams::start(&zmq, &settings.stats_endpoint, &settings.pubsub_endpoint)?;
    let registry = Registry::new(zmq.clone(), lifecycle::probe_policy(&settings), streams);
    for spec in config.nodes {
        let (node, _) = registry.insert(spec, Source::Config)?;
        learn_pubsub_in_background(&node, settings.node_timeout);
    }
    let ctx = Arc::new(Ctx::new(settings.clone(), config.path.clone(), registry));
    if let Some(path) = &settings.state_file {
        let state = StateFile::new(path);
        lifecycle::restore(&ctx, &state)?;
        tokio::spawn(lifecycle::persist(ctx.clone(), state));
    }
    tokio::spawn(lifecycle::reap(ctx.clone()));
    tokio::spawn(crate::discovery::run(ctx.clone()));
    let _readonly = access::readonly::start(&zmq, &ctx)?;
    access::warn_if_remote(&settings);
    let mut hangups = signal(SignalKind::hangup()).ok();
    info!(endpoint = %settings.endpoint, nodes = ctx.registry.names().len(), "clusterd ready");

    let (replies, mut outgoing) = mpsc::unbounded_channel::<Outgoing>();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            Some(()) = recv_hangup(&mut hangups) => match lifecycle::reload(&ctx) {
                Ok(_) => {}
                Err(reason) => warn!(%reason, "SIGHUP: the running configuration stays in force"),
            },
            frames = server.recv() => match frames {
                Ok(frames) => dispatch(&ctx, frames, &replies, Door::Command),
                Err(err) => {
                    error!(cause = %err, "command endpoint receive failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            },
            Some(out) = outgoing.recv() => {
                if let Some(body) = &out.body {
                    let mut frames: Vec<&[u8]> = out.envelope.iter().map(Vec::as_slice).collect();
                    frames.push(body);
                    if let Err(err) = server.send(&frames) {
                        warn!(cause = %err, "reply dropped");
                    }
                }
                if out.then_quit {
                    info!("quit requested by a client");
                    break;
                }
            }
        }
    }
    info!("clusterd stopped");
    Ok(())
}

/// The next SIGHUP; never, when its handler could not be installed.
async fn recv_hangup(hangups: &mut Option<Signal>) -> Option<()> {
    match hangups {
        Some(hangups) => hangups.recv().await,
        None => std::future::pending().await,
    }
}

/// Decodes one incoming message that came in on `door` and either answers it at once or spawns
/// its handler.
pub(crate) fn dispatch(
    ctx: &Arc<Ctx>,
    mut frames: Vec<Vec<u8>>,
    replies: &mpsc::UnboundedSender<Outgoing>,
    door: Door,
) {
    if frames.is_empty() {
        return;
    }
    let identity = frames.remove(0);
    let (envelope, body) = match frames.len() {
        1 => (vec![identity], frames.remove(0)),
        2 if frames[0].is_empty() => (vec![identity, Vec::new()], frames.remove(1)),
        n => {
            let reason = format!("message invalid: expected one frame (the JSON request), got {n}");
            debug!(frames = n, "refused a multi-frame message");
            let body = Reply::error(Errno::MessageError, &reason, Value::Null).encode();
            let _ = replies.send(Outgoing { envelope: vec![identity], body: Some(body), then_quit: false });
            return;
        }
    };
    let request = match Request::decode(&body, ctx.settings().max_message_size) {
        Ok(request) => request,
        Err(err) => {
            debug!(reason = %err.reason, "refused a malformed request");
            let _ = replies.send(Outgoing { envelope, body: Some(err.reply().encode()), then_quit: false });
            return;
        }
    };
    let ctx = ctx.clone();
    let replies = replies.clone();
    tokio::spawn(async move {
        let cast = request.cast;
        debug!(command = %request.command, "request");
        let answer = access::handle(&ctx, door, &envelope[0], request).await;
        let body = (!cast).then(|| answer.reply.encode());
        let _ = replies.send(Outgoing { envelope, body, then_quit: answer.quit });
    });
}
