//! The command endpoint: a ROUTER that speaks Circus's protocol, and next to it the loop of the
//! optional read-only endpoint ([`readonly`]), the same framing over a second ROUTER.
//!
//! Message flow:
//! 1. a client sends `[json]` from a DEALER; the ROUTER receives `[identity, json]`. The ROUTER
//!    belongs to the nodes' thread, which forwards a request for one node itself when the
//!    [`shortcut`] takes it (the proxy hop without a tokio hand-off) and hands the rest here;
//! 2. the frame is decoded; a malformed one is answered at once with errno 1 or 3 (circusd
//!    would stay silent and let the client time out), see [`requests`];
//! 3. a task is spawned per request ([`crate::access::handle`], then [`crate::handler::handle`])
//!    so that slow nodes never hold up other clients;
//! 4. its reply comes back over a channel and is sent as `[identity, json]` by this loop,
//!    through the nodes' thread.
//!
//! REQ clients put an empty delimiter frame before the JSON; circusd ignores them, we answer
//! them with the delimiter restored so that they work too.
//!
//! Stopping (the master's [`Shutdown`] begins, or `quit`): new requests are refused with errno 3,
//! those in flight get up to [`SHUTDOWN_GRACE`] to finish and are then answered with an error;
//! [`serve`] returns then, and the master closes the socket ([`close`]) once the state file and
//! the node sockets are done.

mod permits;
pub mod readonly;
mod requests;
pub mod shortcut;

use std::sync::Arc;
use std::time::Duration;

use clusterd_protocol::connection::CommandServer;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{error, info, warn};

pub use requests::{RequestCounters, MAX_IN_FLIGHT, MAX_IN_FLIGHT_PER_CLIENT};

use crate::access::Door;
use crate::shutdown::{Phase, Shutdown};
use crate::Ctx;
use requests::InFlight;
pub use shortcut::Shortcut;

/// How long a stopping master waits for the requests in flight. Below systemd's default stop
/// timeout (90 s) and `waiting_timeout`: a `waiting` request still running after it is failed.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How long the closed command socket keeps trying to deliver the last replies.
const CLOSE_LINGER: Duration = Duration::from_secs(1);

/// How often a stopping loop looks whether the shortcut's requests are all answered.
const DRAIN_CHECK: Duration = Duration::from_millis(10);

/// Serves the command endpoint until the stop has begun (`shutdown`, or a client's `quit`,
/// which begins it) and the requests in flight (the shortcut's included) are answered or given
/// up on.
pub async fn serve(ctx: &Arc<Ctx>, server: &mut CommandServer, shortcut: &Shortcut, shutdown: &Shutdown) {
    let mut stop = shutdown.watch();
    let (done_tx, mut done) = mpsc::unbounded_channel();
    let mut requests = InFlight::new(ctx.clone(), done_tx, Door::Command, shortcut.permits());
    // Set once stopping: when the requests in flight are given up on.
    let mut deadline: Option<Instant> = None;
    loop {
        tokio::select! {
            () = stop.reached(Phase::Stopping), if deadline.is_none() => deadline = Some(stopping(&requests, shortcut)),
            frames = server.recv() => match frames {
                Ok(frames) => requests.dispatch(server, frames, deadline.is_none()),
                Err(err) => {
                    error!(cause = %err, "command endpoint receive failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(finished) = done.recv() => {
                requests.finish(server, &finished);
                if finished.quit && deadline.is_none() {
                    info!("quit requested by a client");
                    shutdown.begin();
                    deadline = Some(stopping(&requests, shortcut));
                }
            }
            () = tokio::time::sleep(DRAIN_CHECK), if deadline.is_some() && server.forwarded() > 0 => {}
            _ = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                warn!(grace = ?SHUTDOWN_GRACE, "requests still in flight after the grace period: answered with an error");
                let reason = "master shutting down: the request did not finish in time";
                requests.abandon_all(server, reason);
                server.abandon_forwarded(reason);
                break;
            }
        }
        if deadline.is_some() && requests.is_empty() && server.forwarded() == 0 {
            break;
        }
    }
}

/// Closes the command socket with a short linger, so that the last replies still leave.
pub fn close(server: CommandServer) {
    server.close(CLOSE_LINGER);
}

/// Stops the shortcut taking requests, logs the start of a graceful stop and returns when the
/// requests in flight are given up on.
fn stopping(requests: &InFlight, shortcut: &Shortcut) -> Instant {
    shortcut.stop_accepting();
    info!(grace = ?SHUTDOWN_GRACE, in_flight = requests.len(), "stopping: new requests are refused");
    Instant::now() + SHUTDOWN_GRACE
}
