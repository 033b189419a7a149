//! The HTTP server (`http_endpoint`): the live dashboard (`/`, `/nodes/{node}`), its event
//! stream (`/api/events`), a watcher's live output (`/api/logs`), the JSON API (`/api/*`), `/metrics` and `/healthz` (docs/http.md).
//!
//! Everything it shows comes from the [`ClusterView`] (kept from the stream tap and the registry),
//! never from the master's own sockets; every action goes through the one dispatcher with the
//! same read-only rules and audit log as the ZeroMQ endpoints ([`crate::access::handle`], door
//! `http`). Safety checks are in [`guard`].

mod api;
mod assets;
mod guard;
mod logs;
mod metrics;
mod pages;
mod sse;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;
use tokio::sync::watch;
use tower_http::compression::CompressionLayer;
use tracing::{info, warn};

use crate::view::{self, ClusterView};
use crate::Ctx;

/// What every handler sees.
#[derive(Clone)]
pub struct Web {
    ctx: Arc<Ctx>,
    view: Arc<ClusterView>,
    /// Becomes true when the master stops: open event streams end then.
    stopping: watch::Receiver<bool>,
    /// The rows every open event stream sends from.
    rows: Arc<sse::SharedRows>,
}

/// The running server; dropping it ends every open event stream and stops the server.
pub struct HttpServer {
    stop: watch::Sender<bool>,
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Starts the HTTP server when `http_endpoint` is set.
///
/// # Errors
/// The address cannot be bound.
pub fn start(ctx: &Arc<Ctx>) -> std::io::Result<Option<HttpServer>> {
    let Some(addr) = ctx.settings().http.endpoint else { return Ok(None) };
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let local_addr = listener.local_addr()?;
    let (stop, stopping) = watch::channel(false);
    let web = Web { ctx: ctx.clone(), view: view::start(ctx), stopping: stopping.clone(), rows: Arc::default() };
    let app = router(web).into_make_service_with_connect_info::<SocketAddr>();
    let mut until = stopping;
    tokio::spawn(async move {
        let stopped = async move {
            let _ = until.wait_for(|stop| *stop).await;
        };
        if let Err(err) = axum::serve(listener, app).with_graceful_shutdown(stopped).await {
            warn!(cause = %err, "HTTP server failed");
        }
    });
    info!(endpoint = %local_addr, "HTTP dashboard ready");
    Ok(Some(HttpServer { stop }))
}

fn router(web: Web) -> Router {
    Router::new()
        .route("/", get(pages::index))
        .route("/nodes/{node}", get(pages::node))
        .route("/assets/{file}", get(assets::serve))
        .route("/healthz", get(api::healthz))
        .route("/metrics", get(metrics::metrics))
        .route("/api/nodes", get(api::nodes))
        .route("/api/watchers", get(api::watchers))
        .route("/api/placements", get(api::placements))
        .route("/api/events", get(sse::events))
        .route("/api/logs", get(logs::stream))
        .route("/api/nodes/{node}/watchers/{watcher}/{action}", post(api::act_on_node))
        .route("/api/watchers/{watcher}/{action}", post(api::act_on_set))
        .layer(axum::middleware::from_fn_with_state(web.clone(), guard::check))
        // Its default predicate leaves text/event-stream alone, so live streams are not buffered.
        .layer(CompressionLayer::new())
        .with_state(web)
}
