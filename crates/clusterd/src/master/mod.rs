//! The master's wiring, in the order each part needs the one before it: configuration ->
//! streams -> registry and node links -> endpoints -> background tasks, then the command
//! endpoint's loop until the stop, then the tidy end. Each part is started by one small
//! function of [`tasks`]; every task gets the master's [`Shutdown`] and ends with it.
//!
//! A new background task (a dashboard, an etcd watch) is one more `tasks::start_*` call here.

mod tasks;

use std::future::Future;

use clusterd_protocol::connection::{CommandServer, ConnectionError, Context};
use tracing::info;

use crate::access;
use crate::config::Config;
use crate::server;
use crate::shutdown::Shutdown;
use crate::state::StateError;

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
/// (see [`crate::server`]): the state file is written one last time, the node sockets close,
/// then the command socket.
///
/// # Errors
/// An endpoint cannot be bound, a node endpoint is refused by libzmq, or the state file cannot
/// be read.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), ServeError> {
    // The command endpoint and the nodes' ROUTER share the nodes' thread and a libzmq context of
    // their own (server::shortcut); the read-only endpoint has another. Neither I/O thread
    // waits behind the streams' thousands of sockets (or behind libzmq resolving a host name
    // on reconnect).
    let zmq = Context::new();
    let clients_zmq = Context::new();
    let settings = config.cluster.clone();
    let mut endpoint = CommandServer::bind_on_node_thread(&zmq, settings.endpoint.as_str())?;
    let streams = tasks::start_streams(&zmq, &settings)?;
    let ctx = tasks::start_nodes(zmq, config, streams)?;
    let stop = Shutdown::default();
    let state = tasks::start_persist(&ctx, &stop)?;
    tasks::start_placement(&ctx, state.as_ref())?;
    let etcd = tasks::start_etcd(&ctx);
    tasks::start_reap(&ctx, &stop);
    tasks::start_discovery(&ctx, &stop);
    tasks::start_readonly(&clients_zmq, &ctx, &stop)?;
    // Dropped when this function returns: the merged log feed and its followers stop.
    let _logs = crate::logs::start(&ctx)?;
    // Dropped when this function returns: every open event stream ends then.
    let _http = tasks::start_http(&ctx)?;
    tasks::start_reload_on_hangup(&ctx, &stop);
    access::warn_if_remote(&settings);
    info!(endpoint = %settings.endpoint, nodes = ctx.registry.names().len(), "clusterd ready");

    let shortcut = server::Shortcut::new(ctx.clone());
    endpoint.set_shortcut(shortcut.clone());
    serve_until(server::serve(&ctx, &mut endpoint, &shortcut, &stop), shutdown, &stop).await;

    if let Some(state) = &state {
        crate::node_life::flush(ctx.clone(), state).await;
    }
    if let Some(etcd) = etcd {
        etcd.stop().await;
    }
    // Node sockets close before the master's own (see Registry::close_all); the aborted link
    // and feed tasks drop their sockets as the runtime gets to them.
    ctx.registry.close_all();
    tokio::task::yield_now().await;
    server::close(endpoint);
    stop.finish();
    info!("clusterd stopped");
    Ok(())
}

/// Runs the command endpoint's loop; `shutdown` completing begins the stop, and the loop then
/// ends as it does after `quit`.
async fn serve_until(serving: impl Future<Output = ()>, shutdown: impl Future<Output = ()>, stop: &Shutdown) {
    tokio::pin!(serving);
    tokio::select! {
        () = &mut serving => {}
        () = shutdown => {
            stop.begin();
            serving.await;
        }
    }
}
