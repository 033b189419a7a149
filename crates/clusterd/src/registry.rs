//! The node registry: every node the master knows, with its link and where it came from.
//!
//! The map sits behind a `std::sync::RwLock` (not a tokio lock): it is only held to look up,
//! insert or remove an `Arc<Node>`, never across an `.await`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use clusterd_protocol::connection::{ConnectionError, Context};
use clusterd_protocol::{Endpoint, Request};
use serde_json::{json, Map, Value};
use tracing::{debug, info};

use crate::config::NodeSpec;
use crate::link::{Link, LinkSettings};

/// How a node entered the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Declared in the configuration file.
    Config,
    /// Added by `register_node`.
    Registered,
}

impl Source {
    /// The name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Config => "config",
            Source::Registered => "registered",
        }
    }
}

/// One registered node.
pub struct Node {
    /// Node name.
    pub name: String,
    /// circusd's command endpoint.
    pub endpoint: Endpoint,
    /// circusd-stats' stream.
    pub stats_endpoint: Option<Endpoint>,
    /// circusd's event stream; learnt from the node's `globaloptions` when not given.
    pub pubsub_endpoint: Mutex<Option<Endpoint>>,
    /// Where the entry came from.
    pub source: Source,
    /// The connection to the node.
    pub link: Link,
}

impl Node {
    /// The node as `nodes` reports it.
    pub fn describe(&self) -> Value {
        let health = self.link.health();
        let pubsub = self.pubsub_endpoint.lock().expect("pubsub lock").clone();
        json!({
            "name": self.name,
            "endpoint": self.endpoint.as_str(),
            "pubsub_endpoint": pubsub.map(|e| e.to_string()),
            "stats_endpoint": self.stats_endpoint.as_ref().map(|e| e.to_string()),
            "state": health.state.as_str(),
            "source": self.source.as_str(),
            "last_seen": health.last_seen,
            "rtt_ms": health.rtt.map(|rtt| (rtt.as_secs_f64() * 1e6).round() / 1e3),
            "missed_probes": health.missed,
        })
    }
}

impl Node {
    /// Asks the node's `globaloptions` for its `pubsub_endpoint` and records it; a wildcard
    /// host (`0.0.0.0`, `*`) is replaced by the host of the node's command endpoint, as
    /// circus-web does.
    ///
    /// # Errors
    /// The node did not answer, or reported no usable endpoint.
    pub async fn learn_pubsub_endpoint(&self, timeout: Duration) -> Result<Endpoint, String> {
        let mut properties = Map::new();
        properties.insert("option".into(), "pubsub_endpoint".into());
        let reply = self.link.call(Request::new("globaloptions", properties), timeout).await;
        let reply = reply.map_err(|err| err.describe(&self.name))?;
        let text = reply
            .0
            .get("options")
            .and_then(|o| o.get("pubsub_endpoint"))
            .and_then(Value::as_str)
            .ok_or_else(|| format!("node {} did not report a pubsub_endpoint", self.name))?;
        let mut endpoint: Endpoint = text.parse()?;
        if let (Some(host @ ("0.0.0.0" | "*")), Some(node_host)) = (endpoint.host(), self.endpoint.host()) {
            endpoint = endpoint.as_str().replacen(host, node_host, 1).parse()?;
        }
        *self.pubsub_endpoint.lock().expect("pubsub lock") = Some(endpoint.clone());
        Ok(endpoint)
    }
}

/// Until a configured node without `pubsub_endpoint` tells us its own, ask it again every
/// few seconds; stop when it answers or leaves the registry.
pub fn learn_pubsub_in_background(node: &Arc<Node>, timeout: Duration) {
    let node = Arc::downgrade(node);
    tokio::spawn(async move {
        loop {
            let Some(current) = node.upgrade() else { return };
            if current.pubsub_endpoint.lock().expect("pubsub lock").is_some() {
                return;
            }
            match current.learn_pubsub_endpoint(timeout).await {
                Ok(endpoint) => {
                    info!(node = %current.name, %endpoint, "learnt pubsub_endpoint from the node");
                    return;
                }
                Err(reason) => debug!(node = %current.name, %reason, "pubsub_endpoint not known yet"),
            }
            drop(current);
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    });
}

/// All known nodes, by name.
pub struct Registry {
    ctx: Context,
    settings: LinkSettings,
    nodes: RwLock<BTreeMap<String, Arc<Node>>>,
}

impl Registry {
    /// An empty registry whose links use `settings`.
    pub fn new(ctx: Context, settings: LinkSettings) -> Self {
        Registry { ctx, settings, nodes: RwLock::new(BTreeMap::new()) }
    }

    /// Adds or replaces a node; returns it and whether an entry of that name was replaced.
    ///
    /// # Errors
    /// libzmq refused the node's endpoint.
    pub fn insert(&self, spec: NodeSpec, source: Source) -> Result<(Arc<Node>, bool), ConnectionError> {
        let link = Link::spawn(&self.ctx, &spec.name, spec.endpoint.as_str(), self.settings)?;
        let node = Arc::new(Node {
            name: spec.name.clone(),
            endpoint: spec.endpoint,
            stats_endpoint: spec.stats_endpoint,
            pubsub_endpoint: Mutex::new(spec.pubsub_endpoint),
            source,
            link,
        });
        let replaced = self.write().insert(spec.name, node.clone()).is_some();
        Ok((node, replaced))
    }

    /// Removes a node; its link stops once no request holds it any more.
    pub fn remove(&self, name: &str) -> Option<Arc<Node>> {
        self.write().remove(name)
    }

    /// The node called `name`.
    pub fn get(&self, name: &str) -> Option<Arc<Node>> {
        self.nodes.read().expect("registry lock").get(name).cloned()
    }

    /// True when a node called `name` exists.
    pub fn contains(&self, name: &str) -> bool {
        self.nodes.read().expect("registry lock").contains_key(name)
    }

    /// Every node, sorted by name.
    pub fn all(&self) -> Vec<Arc<Node>> {
        self.nodes.read().expect("registry lock").values().cloned().collect()
    }

    /// Every node name, sorted.
    pub fn names(&self) -> Vec<String> {
        self.nodes.read().expect("registry lock").keys().cloned().collect()
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Arc<Node>>> {
        self.nodes.write().expect("registry lock")
    }
}
