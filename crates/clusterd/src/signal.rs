//! The shutdown trigger: a future that completes on SIGINT or SIGTERM, logging which.

use tokio::signal::unix::{signal, SignalKind};
use tracing::{info, warn};

/// Completes when SIGINT or SIGTERM arrives.
pub async fn shutdown() {
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
        warn!("cannot install signal handlers; only `quit` will stop the master");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => info!(signal = "SIGINT", "shutting down"),
        _ = term.recv() => info!(signal = "SIGTERM", "shutting down"),
    }
}
