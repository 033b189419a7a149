//! One registered node: where it came from, its endpoints (given or learnt) and how `nodes`
//! describes it.

use std::sync::{Arc, Mutex};

use clusterd_protocol::Endpoint;
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::config::NodeSpec;
use crate::link::Link;
use crate::streams::{Counters, FeedHandle};

/// How a node entered the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Declared in the configuration file.
    Config,
    /// Added by `register_node`.
    Registered,
    /// Found by a discovery scan.
    Discovered,
}

impl Source {
    /// The name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Config => "config",
            Source::Registered => "registered",
            Source::Discovered => "discovered",
        }
    }
}

/// One registered node.
pub struct Node {
    /// Node name.
    pub name: String,
    /// circusd's command endpoint.
    pub endpoint: Endpoint,
    /// circusd-stats' stream; learnt from the node's `globaloptions` when not given
    /// ([`crate::learn`]). The feed watches it and subscribes as soon as it is known.
    pub stats_endpoint: watch::Sender<Option<Endpoint>>,
    /// circusd's event stream; learnt like the stats stream.
    pub pubsub_endpoint: watch::Sender<Option<Endpoint>>,
    /// The stream endpoints learnt from the node rather than given (`pubsub_endpoint`,
    /// `stats_endpoint`).
    pub(super) learnt: Mutex<Vec<&'static str>>,
    /// Where the entry came from.
    pub source: Source,
    /// Tags, for node-set expressions (`@eu`).
    pub tags: Vec<String>,
    /// The connection to the node.
    pub link: Link,
    /// The node's stream counters.
    pub counters: Arc<Counters>,
    /// Keeps the node's stream feed running.
    pub(super) _feed: FeedHandle,
}

impl Node {
    /// The node's name and endpoints, as declared or registered (with the stream endpoints
    /// learnt since).
    pub fn spec(&self) -> NodeSpec {
        NodeSpec {
            name: self.name.clone(),
            endpoint: self.endpoint.clone(),
            stats_endpoint: self.stats_endpoint.borrow().clone(),
            pubsub_endpoint: self.pubsub_endpoint.borrow().clone(),
            tags: self.tags.clone(),
        }
    }

    /// Where each endpoint came from: the node's source (`config`, `registered`, `discovered`)
    /// for the ones given, `learnt` for those asked from the node, `null` while unknown.
    pub fn endpoint_sources(&self) -> Value {
        let learnt = self.learnt.lock().expect("learnt lock");
        let source = |key: &str, known: bool| match (known, learnt.contains(&key)) {
            (false, _) => Value::Null,
            (true, true) => "learnt".into(),
            (true, false) => self.source.as_str().into(),
        };
        json!({
            "endpoint": self.source.as_str(),
            "pubsub_endpoint": source("pubsub_endpoint", self.pubsub_endpoint.borrow().is_some()),
            "stats_endpoint": source("stats_endpoint", self.stats_endpoint.borrow().is_some()),
        })
    }

    /// Records a stream endpoint learnt from the node; the feed subscribes to it.
    pub(crate) fn set_learnt(&self, key: &'static str, endpoint: Endpoint) {
        self.learnt.lock().expect("learnt lock").push(key);
        match key {
            "stats_endpoint" => self.stats_endpoint.send_replace(Some(endpoint)),
            _ => self.pubsub_endpoint.send_replace(Some(endpoint)),
        };
    }

    /// The node as `nodes` reports it.
    pub fn describe(&self) -> Value {
        let health = self.link.health();
        let pubsub = self.pubsub_endpoint.borrow().clone();
        let stats = self.stats_endpoint.borrow().clone();
        let mut described = json!({
            "name": self.name,
            "endpoint": self.endpoint.as_str(),
            "pubsub_endpoint": pubsub.map(|e| e.to_string()),
            "stats_endpoint": stats.map(|e| e.to_string()),
            "endpoint_sources": self.endpoint_sources(),
            "state": health.state.as_str(),
            "source": self.source.as_str(),
            "tags": self.tags,
            "last_seen": health.last_seen,
            "rtt_ms": health.rtt.map(|rtt| (rtt.as_secs_f64() * 1e6).round() / 1e3),
            "missed_probes": health.missed,
            "circusd_pid": health.circusd_pid,
            "streams": self.counters.describe_node(),
        });
        // Only while the host name does not resolve: why there is no connection.
        if let (Some(reason), Value::Object(fields)) = (health.dns_failure, &mut described) {
            fields.insert("unreachable".into(), reason.into());
        }
        described
    }
}
