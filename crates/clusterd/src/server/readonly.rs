//! The loop of `readonly_endpoint`: a second ROUTER with the same framing, limits and counters
//! as the command endpoint and an in-flight table of its own; what it lets through is decided
//! by [`crate::access::readonly`] (door [`Door::Readonly`]).

use std::sync::Arc;
use std::time::Duration;

use clusterd_protocol::connection::CommandServer;
use tokio::sync::mpsc;
use tracing::error;

use super::requests::InFlight;
use crate::access::Door;
use crate::Ctx;

/// Serves the bound read-only endpoint until the task is dropped (the master ends it when it
/// stops, which closes the socket).
pub async fn serve(ctx: Arc<Ctx>, mut server: CommandServer) {
    let (done_tx, mut done) = mpsc::unbounded_channel();
    let permits = super::permits::Permits::new(ctx.clone());
    let mut requests = InFlight::new(ctx, done_tx, Door::Readonly, permits);
    loop {
        tokio::select! {
            frames = server.recv() => match frames {
                Ok(frames) => requests.dispatch(&server, frames, true),
                Err(err) => {
                    error!(cause = %err, "read-only endpoint receive failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            // Never `quit` here: it is not a read-only command.
            Some(finished) = done.recv() => requests.finish(&server, &finished),
        }
    }
}
