//! The merged live feed: one follower task per node whose lines someone wants.
//!
//! The hub reports the topic prefixes its subscribers hold; a node is followed while one of
//! them can match a topic of that node (`log.<node>:...`): `""`, `log.`, `log.no`,
//! `log.node:printer.` all do. A follower asks the agent to `follow` every [`RENEW`] (the
//! agent's lease is longer), republishes each pushed line with `node` added under its topic, and
//! says `unfollow` when nobody wants the node any more. With no subscriber, nothing is followed
//! and the feed costs nothing.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use clusterd_protocol::connection::logs::{LogFollower, LogHub, LINE_FRAME};
use clusterd_protocol::{Endpoint, Request};
use serde_json::{Map, Value};
use tokio::sync::oneshot;
use tracing::{debug, warn};

use crate::Ctx;

/// Messages queued per subscriber of `[cluster] logs_endpoint` before its lines are dropped.
pub const SUBSCRIBER_QUEUE: i32 = 100_000;
/// How often a follower renews its lease with the agent.
const RENEW: Duration = Duration::from_secs(3);
/// How often the set of followed nodes is looked at again without a subscription change (new
/// registrations).
const RECHECK: Duration = Duration::from_secs(1);

/// A running follower: its agent endpoint, and the way to stop it.
struct Running {
    endpoint: Endpoint,
    stop: oneshot::Sender<()>,
}

/// Keeps one follower per wanted node until aborted.
pub async fn run(ctx: Arc<Ctx>, hub: Arc<LogHub>) {
    let mut subscriptions = hub.subscriptions();
    let mut running: HashMap<String, Running> = HashMap::new();
    loop {
        let wanted = subscriptions.borrow_and_update().clone();
        let mut keep = HashMap::new();
        for name in ctx.registry.names() {
            let Some(endpoint) = ctx.logs.get(&name) else { continue };
            if !node_wanted(&wanted, &name) {
                continue;
            }
            match running.remove(&name) {
                Some(follower) if follower.endpoint == endpoint => {
                    keep.insert(name, follower);
                }
                _ => {
                    let (stop, stopped) = oneshot::channel();
                    tokio::spawn(follow(Arc::clone(&ctx), Arc::clone(&hub), name.clone(), endpoint.clone(), stopped));
                    keep.insert(name, Running { endpoint, stop });
                }
            }
        }
        // Whatever is left is no longer wanted (or gone): told to stop.
        for (_, follower) in running.drain() {
            let _ = follower.stop.send(());
        }
        running = keep;
        tokio::select! {
            changed = subscriptions.changed() => if changed.is_err() { return },
            () = tokio::time::sleep(RECHECK) => {}
        }
    }
}

/// Whether a subscriber holding one of `prefixes` can receive a line of `node`.
fn node_wanted(prefixes: &BTreeSet<Vec<u8>>, node: &str) -> bool {
    crate::streams::interest::can_match(prefixes, format!("log.{node}:").as_bytes())
}

/// Follows one agent until `stopped` fires, then tells it `unfollow`.
async fn follow(ctx: Arc<Ctx>, hub: Arc<LogHub>, node: String, endpoint: Endpoint, mut stopped: oneshot::Receiver<()>) {
    let mut agent = match LogFollower::connect(ctx.registry.zmq(), endpoint.as_str()) {
        Ok(agent) => agent,
        Err(err) => {
            warn!(node = %node, cause = %err, "cannot follow the node's log agent");
            return;
        }
    };
    debug!(node = %node, endpoint = %endpoint, "following the node's watcher output");
    let mut renew = tokio::time::interval(RENEW);
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            _ = renew.tick() => {
                if agent.send(&request("follow")).await.is_err() {
                    break;
                }
            }
            frames = agent.recv() => match frames {
                Ok(frames) if frames.len() == 2 && frames[0] == LINE_FRAME => {
                    publish(&hub, &node, &frames[1]);
                    // A flooding agent keeps the socket always ready, and libzmq's readiness is
                    // outside tokio's cooperative budget: without this the task would keep its
                    // worker, and the command path on it, for as long as the flood lasts.
                    tokio::task::consume_budget().await;
                }
                Ok(_) => {}
                Err(_) => break,
            },
        }
    }
    let _ = agent.send(&request("unfollow")).await;
    debug!(node = %node, "no longer following the node's watcher output");
}

fn request(command: &str) -> Vec<u8> {
    Request::new(command, Map::new()).encode_with_id(&Value::Null)
}

/// Publishes one pushed line under `log.<node>:<watcher>.<stream>`, `node` first in it.
fn publish(hub: &LogHub, node: &str, payload: &[u8]) {
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(payload) else { return };
    let text = |key: &str| fields.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
    let topic = format!("log.{node}:{}.{}", text("watcher"), text("stream"));
    let mut line = Map::new();
    line.insert("node".into(), node.into());
    line.extend(fields);
    hub.publish(topic.into_bytes(), Value::Object(line).to_string().into_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_is_wanted_by_any_prefix_that_can_match_its_topics() {
        let set = |items: &[&str]| items.iter().map(|s| s.as_bytes().to_vec()).collect::<BTreeSet<_>>();
        assert!(node_wanted(&set(&[""]), "n1"));
        assert!(node_wanted(&set(&["log."]), "n1"));
        assert!(node_wanted(&set(&["log.n"]), "n1"));
        assert!(node_wanted(&set(&["log.n1:printer.stdout"]), "n1"));
        assert!(!node_wanted(&set(&["log.n2:"]), "n1"));
        assert!(!node_wanted(&set(&["log.n1:printer"]), "n10"));
        assert!(!node_wanted(&set(&[]), "n1"));
    }
}
