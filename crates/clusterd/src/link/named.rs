//! A node endpoint with a host name: looked up by the link task off the hot path, on a blocking
//! thread and never for long, and connected to by address, so that a resolver that never
//! answers costs the master nothing but this node (libzmq would resolve synchronously, in the
//! thread that connects and again in its I/O thread on every reconnect).
//!
//! The name is looked up when the link starts, every heartbeat while it does not resolve, and
//! again whenever the connection closes (the node may have moved); a new address gets a new
//! socket. While a lookup is unanswered for [`LOOKUP_TIMEOUT`], requests fail with
//! `unreachable (dns: ...)`; one lookup at a time, so a stuck resolver never piles up threads.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use clusterd_protocol::connection::{Context, NodeSocket};
use clusterd_protocol::endpoint::lookup_blocking;
use clusterd_protocol::Endpoint;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::task::Task;
use super::NodeError;

/// How long a lookup may take before the node counts as unresolvable (the lookup itself goes on
/// in its thread, and its late answer is still used).
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

type Lookup = JoinHandle<Result<SocketAddr, String>>;

/// The lookup state of a link whose endpoint is a host name.
pub(super) struct Named {
    pub(super) ctx: Context,
    pub(super) endpoint: Endpoint,
    /// The address the socket is connected to.
    pub(super) address: Option<Endpoint>,
    /// Why the last lookup failed (`dns: ...`), until one succeeds.
    pub(super) failure: Option<String>,
    lookup: Option<(Lookup, Instant)>,
}

impl Named {
    /// `endpoint`'s lookup state when its host is a name; its first lookup starts now.
    pub(super) fn new(ctx: &Context, endpoint: &str) -> Option<Named> {
        let endpoint = endpoint.parse::<Endpoint>().ok().filter(Endpoint::needs_lookup)?;
        let mut named = Named { ctx: ctx.clone(), endpoint, address: None, failure: None, lookup: None };
        named.start_lookup();
        Some(named)
    }

    /// Starts a lookup unless one is running.
    pub(super) fn start_lookup(&mut self) {
        if self.lookup.is_none() {
            self.lookup = Some((tokio::task::spawn_blocking(lookup_blocking(&self.endpoint)), Instant::now()));
        }
    }

    /// Records a timeout when the running lookup has gone unanswered too long; true when that
    /// is news.
    pub(super) fn check_overdue(&mut self) -> bool {
        let overdue = self.lookup.as_ref().is_some_and(|(_, since)| since.elapsed() >= LOOKUP_TIMEOUT);
        if overdue && self.failure.is_none() {
            let host = self.endpoint.host().unwrap_or_default();
            self.failure = Some(format!("dns: no answer for {host} within {}s", LOOKUP_TIMEOUT.as_secs()));
            return true;
        }
        false
    }
}

/// The answer of the running lookup; never ready without one.
pub(super) async fn answer(named: &mut Option<Named>) -> Result<SocketAddr, String> {
    let Some((lookup, _)) = named.as_mut().and_then(|named| named.lookup.as_mut()) else {
        return std::future::pending().await;
    };
    let result = lookup.await.unwrap_or_else(|join| Err(format!("dns: lookup failed: {join}")));
    if let Some(named) = named.as_mut() {
        named.lookup = None;
    }
    result
}

impl Task {
    /// A lookup of the node's host name answered: connect to the address when it is new.
    pub(super) fn on_lookup(&mut self, answer: Result<SocketAddr, String>) {
        let Some(named) = &mut self.named else { return };
        let address = match answer {
            Ok(address) => named.endpoint.at_address(address),
            Err(reason) => {
                if named.failure.as_ref() != Some(&reason) {
                    warn!(node = %self.name, %reason, "node endpoint does not resolve");
                }
                named.failure = Some(reason);
                self.health.lock().expect("health lock").dns_failure = named.failure.clone();
                return;
            }
        };
        named.failure = None;
        self.health.lock().expect("health lock").dns_failure = None;
        if named.address.as_ref() == Some(&address) {
            return;
        }
        match NodeSocket::connect(&named.ctx, address.as_str()) {
            Ok(socket) => {
                info!(node = %self.name, endpoint = %named.endpoint, %address, "node endpoint resolved");
                named.address = Some(address);
                *self.caller.lock().expect("caller lock") = Some(socket.caller());
                // Replies to what was sent on the old socket will not come.
                if self.socket.replace(socket).is_some() {
                    self.fail_pending(NodeError::ConnectionLost);
                }
            }
            Err(err) => {
                named.failure = Some(format!("connect {address}: {err}"));
                self.health.lock().expect("health lock").dns_failure = named.failure.clone();
            }
        }
    }
}
