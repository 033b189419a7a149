//! The shutdown trigger: a future that completes on SIGINT or SIGTERM, logging which.
//!
//! The first signal starts a graceful stop ([`crate::run`] drains the requests in flight for
//! up to [`crate::SHUTDOWN_GRACE`]). A second SIGINT (Ctrl-C twice) exits at once with status
//! 130 (128 + SIGINT, the shell's convention), without waiting for anything.

use tokio::signal::unix::{signal, SignalKind};
use tracing::{info, warn};

/// Exit status of a master stopped by a second SIGINT.
pub const EXIT_INTERRUPTED: i32 = 130;

/// Completes when SIGINT or SIGTERM arrives; from then on a further SIGINT ends the process.
pub async fn shutdown() {
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
        warn!("cannot install signal handlers; only `quit` will stop the master");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => info!(signal = "SIGINT", "shutting down (SIGINT again to exit at once)"),
        _ = term.recv() => info!(signal = "SIGTERM", "shutting down (SIGINT to exit at once)"),
    }
    // A task of its own: the graceful stop that follows must not delay the way out. Exiting
    // from here is deliberate: the operator asked for "now", not for a tidy stop.
    tokio::spawn(async move {
        if int.recv().await.is_some() {
            warn!(status = EXIT_INTERRUPTED, "second SIGINT: exiting at once");
            std::process::exit(EXIT_INTERRUPTED);
        }
    });
}
