//! One small function per part of the master, called in order by [`super::run`]. Background
//! tasks are spawned through the master's [`Shutdown`], so each one ends when the master does.

use std::sync::Arc;

use clusterd_protocol::connection::{CommandServer, ConnectionError, Context};
use tokio::signal::unix::{signal, SignalKind};
use tracing::{info, warn};

use super::ServeError;
use crate::config::{ClusterSettings, Config};
use crate::learn::learn_streams_in_background;
use crate::registry::{Registry, Source};
use crate::shutdown::{Phase, Shutdown};
use crate::state::{StateError, StateFile};
use crate::streams::Streams;
use crate::{node_life, Ctx};

/// Binds the merged stats and event streams (the publisher task starts with them).
pub fn start_streams(zmq: &Context, settings: &ClusterSettings) -> Result<Streams, ConnectionError> {
    Streams::start(zmq, &settings.stats_endpoint, &settings.pubsub_endpoint, settings.max_stream_message_size)
}

/// The registry with the configured nodes, each with its link task (and its streams learnt in
/// the background when the configuration does not give them), inside the request context.
pub fn start_nodes(zmq: Context, config: Config, streams: Streams) -> Result<Arc<Ctx>, ConnectionError> {
    let settings = config.cluster;
    let registry = Registry::new(zmq, node_life::probe_policy(&settings), streams);
    for spec in config.nodes {
        let (node, _) = registry.insert(spec, Source::Config)?;
        learn_streams_in_background(&node, settings.node_timeout);
    }
    Ok(Arc::new(Ctx::new(settings, config.path, registry)))
}

/// With `state_file`: restores the saved nodes, then saves them on every change until the
/// master stops (its last write is the master's own, [`node_life::flush`]). With
/// `registry = "etcd"`, etcd keeps the registered and discovered nodes, not the file.
pub fn start_persist(ctx: &Arc<Ctx>, stop: &Shutdown) -> Result<Option<StateFile>, StateError> {
    let settings = ctx.settings();
    let Some(state) = settings.local_state_file().map(StateFile::new) else { return Ok(None) };
    node_life::restore(ctx, &state)?;
    stop.spawn_until(Phase::Stopped, node_life::persist(ctx.clone(), state.clone()));
    Ok(Some(state))
}

/// Placement's desired state (restored from the state file when there is one) and its task
/// that fails copies over and conciliates returning nodes (docs/placement.md).
pub fn start_placement(ctx: &Arc<Ctx>, state: Option<&StateFile>) -> Result<(), StateError> {
    let saved = match state {
        Some(state) => state.load_placements()?,
        None => serde_json::Value::Null,
    };
    crate::placement::start(ctx, &saved);
    Ok(())
}

/// With `registry = "etcd"`: the shared registry's watch, the mirror of this master's changes
/// and the leader election (docs/ha.md); stopped by the master's tidy end (the lease revoked).
pub fn start_etcd(ctx: &Arc<Ctx>) -> Option<crate::etcd::EtcdHandle> {
    crate::etcd::start(ctx)
}

/// Forgets dynamic nodes that stay down (`forget_after`).
pub fn start_reap(ctx: &Arc<Ctx>, stop: &Shutdown) {
    stop.spawn_until(Phase::Stopped, node_life::reap(ctx.clone()));
}

/// Discovery rounds over `discover` targets (nothing to do without them; a reload may add some).
pub fn start_discovery(ctx: &Arc<Ctx>, stop: &Shutdown) {
    stop.spawn_until(Phase::Stopped, crate::discovery::run(ctx.clone()));
}

/// Binds `readonly_endpoint` when it is set and serves it until the master stops.
pub fn start_readonly(zmq: &Context, ctx: &Arc<Ctx>, stop: &Shutdown) -> Result<(), ConnectionError> {
    let Some(endpoint) = ctx.settings().readonly_endpoint.clone() else { return Ok(()) };
    let server = CommandServer::bind(zmq, endpoint.as_str())?;
    info!(%endpoint, "read-only endpoint ready");
    stop.spawn_until(Phase::Stopped, crate::server::readonly::serve(ctx.clone(), server));
    Ok(())
}

/// Starts the HTTP server when `http_endpoint` is set; it stops when the returned handle drops.
pub fn start_http(ctx: &Arc<Ctx>) -> Result<Option<crate::http::HttpServer>, ServeError> {
    crate::http::start(ctx).map_err(ServeError::Http)
}

/// Reloads the configuration on SIGHUP until the stop begins. The handler is installed here,
/// before the master says it is ready, so that an early SIGHUP never kills the process.
pub fn start_reload_on_hangup(ctx: &Arc<Ctx>, stop: &Shutdown) {
    // Without a handler (never seen on Linux) SIGHUP keeps its default action; `reloadconfig`
    // still reloads.
    let Ok(mut hangups) = signal(SignalKind::hangup()) else { return };
    let ctx = ctx.clone();
    stop.spawn_until(Phase::Stopping, async move {
        while hangups.recv().await.is_some() {
            if let Err(reason) = node_life::reload(&ctx) {
                warn!(reason, "SIGHUP: the running configuration stays in force");
            }
        }
    });
}
