//! A node's stream endpoints learnt from the node itself: a node declared or registered without
//! `pubsub_endpoint` or `stats_endpoint` is asked for its `globaloptions`, as circus-web does,
//! so that its events and stats reach the merged streams without the operator copying them.
//! `nodes` tells a learnt endpoint from a given one (`endpoint_sources`).

use std::sync::Arc;
use std::time::Duration;

use clusterd_protocol::{Endpoint, Request};
use serde_json::{Map, Value};
use tracing::{debug, info};

use crate::registry::Node;

/// The stream endpoints a node can be asked for, in the order they are learnt.
const STREAM_KEYS: [&str; 2] = ["pubsub_endpoint", "stats_endpoint"];

/// How long to wait between two attempts while a node does not answer.
const RETRY: Duration = Duration::from_secs(2);

impl Node {
    /// Asks the node's `globaloptions` for the stream endpoints it was given without, and
    /// records them; a wildcard host (`0.0.0.0`, `*`) is replaced by the host of the node's
    /// command endpoint. Returns the keys learnt.
    ///
    /// # Errors
    /// The node did not answer, or reported no usable endpoint for a missing key.
    pub async fn learn_streams(&self, timeout: Duration) -> Result<Vec<&'static str>, String> {
        let missing: Vec<&'static str> = STREAM_KEYS.into_iter().filter(|key| self.stream(key).is_none()).collect();
        if missing.is_empty() {
            return Ok(Vec::new());
        }
        let reply = self.link.call(Request::new("globaloptions", Map::new()), timeout).await;
        let reply = reply.map_err(|err| err.describe(&self.name))?;
        let mut learnt = Vec::new();
        for key in missing {
            let text = reply
                .0
                .get("options")
                .and_then(|o| o.get(key))
                .and_then(Value::as_str)
                .ok_or_else(|| format!("node {} did not report a {key}", self.name))?;
            let mut endpoint: Endpoint = text.parse()?;
            if let (Some(host @ ("0.0.0.0" | "*")), Some(node_host)) = (endpoint.host(), self.endpoint.host()) {
                endpoint = endpoint.as_str().replacen(host, node_host, 1).parse()?;
            }
            self.set_learnt(key, endpoint);
            learnt.push(key);
        }
        Ok(learnt)
    }

    /// The node's stream endpoint of `key` (`pubsub_endpoint` or `stats_endpoint`), if known.
    pub fn stream(&self, key: &str) -> Option<Endpoint> {
        match key {
            "pubsub_endpoint" => self.pubsub_endpoint.borrow().clone(),
            "stats_endpoint" => self.stats_endpoint.borrow().clone(),
            _ => None,
        }
    }
}

/// Until a node tells us the stream endpoints it was given without, ask it again every few
/// seconds; stop when it answers or leaves the registry.
pub fn learn_streams_in_background(node: &Arc<Node>, timeout: Duration) {
    let node = Arc::downgrade(node);
    tokio::spawn(async move {
        loop {
            let Some(current) = node.upgrade() else { return };
            match current.learn_streams(timeout).await {
                Ok(learnt) => {
                    for key in learnt {
                        let endpoint = current.stream(key).map(|e| e.to_string()).unwrap_or_default();
                        info!(node = %current.name, %endpoint, "learnt {key} from the node");
                    }
                    return;
                }
                Err(reason) => debug!(node = %current.name, %reason, "stream endpoints not known yet"),
            }
            drop(current);
            tokio::time::sleep(RETRY).await;
        }
    });
}
