//! Watcher output across the cluster (docs/logs.md).
//!
//! Each joined node may run a log agent (`clusterctl join` with `logs_endpoint` in its worker
//! ini), which registers its endpoint with `register_node`. The master keeps those endpoints
//! ([`Agents`]) and
//!
//! * answers `logs` ([`history()`]): the recent lines of a node set, asked of every agent at once
//!   and gathered per node, bounded in size;
//! * with `[cluster] logs_endpoint`, publishes the live lines of every node on one XPUB
//!   ([`feed`]), topics `log.<node>:<watcher>.<stream>`, following a node's agent only while a
//!   subscriber holds a topic prefix of that node.

mod feed;
mod history;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use clusterd_protocol::connection::logs::LogHub;
use clusterd_protocol::connection::ConnectionError;
use clusterd_protocol::{Endpoint, Request};

pub use history::history;

use crate::Ctx;

/// The log agents' endpoints, by node name, and the merged feed once started.
#[derive(Default)]
pub struct Agents(Mutex<HashMap<String, Endpoint>>, OnceLock<Arc<LogHub>>);

impl Agents {
    /// For `dstats`: `{"feed": bool, "dropped": lines the feed's queue had no room for}`.
    pub fn describe(&self) -> serde_json::Value {
        let dropped = self.1.get().map_or(0, |hub| hub.dropped());
        serde_json::json!({"feed": self.1.get().is_some(), "dropped": dropped})
    }

    /// Where the merged feed can be subscribed to from this host (`[cluster] logs_endpoint` as
    /// bound, a wildcard address made loopback), when it runs.
    pub fn feed_endpoint(&self) -> Option<String> {
        let bound = self.1.get()?.endpoint().to_string();
        Some(
            bound
                .replace("://0.0.0.0:", "://127.0.0.1:")
                .replace("://*:", "://127.0.0.1:")
                .replace("://[::]:", "://[::1]:"),
        )
    }

    /// Records (or, with `None`, forgets) the agent of `node`.
    pub fn set(&self, node: &str, endpoint: Option<Endpoint>) {
        let mut agents = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match endpoint {
            Some(endpoint) => agents.insert(node.to_string(), endpoint),
            None => agents.remove(node),
        };
    }

    /// Every known agent, by node name (for the state file).
    pub fn all(&self) -> std::collections::BTreeMap<String, Endpoint> {
        let agents = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        agents.iter().map(|(node, endpoint)| (node.clone(), endpoint.clone())).collect()
    }

    /// The agent of `node`, if it registered one.
    pub fn get(&self, node: &str) -> Option<Endpoint> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).get(node).cloned()
    }
}

/// The `logs_endpoint` property of a `register_node` request, checked.
///
/// # Errors
/// It is not a string or not an endpoint.
pub fn registered_endpoint(request: &Request) -> Result<Option<Endpoint>, String> {
    match request.str_property("logs_endpoint")?.map(str::trim).filter(|text| !text.is_empty()) {
        Some(text) => text.parse::<Endpoint>().map(Some).map_err(|e| format!("bad logs_endpoint {e}")),
        None => Ok(None),
    }
}

/// Stops the merged feed when dropped.
pub struct FeedGuard(tokio::task::JoinHandle<()>);

impl Drop for FeedGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Binds `[cluster] logs_endpoint`, when set, and starts the merged feed.
///
/// # Errors
/// The endpoint cannot be bound.
pub fn start(ctx: &Arc<Ctx>) -> Result<Option<FeedGuard>, ConnectionError> {
    let Some(endpoint) = ctx.settings().logs_endpoint.clone() else { return Ok(None) };
    let hub = clusterd_protocol::connection::logs::LogHub::bind(endpoint.as_str(), feed::SUBSCRIBER_QUEUE, 65_536)?;
    tracing::info!(endpoint = %hub.endpoint(), "merged watcher output published");
    let hub = Arc::new(hub);
    let _ = ctx.logs.1.set(Arc::clone(&hub));
    Ok(Some(FeedGuard(tokio::spawn(feed::run(Arc::clone(ctx), hub)))))
}
