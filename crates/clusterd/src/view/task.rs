//! Keeping the view: one task reads the stream tap, another asks each reachable node for its
//! watchers' `status` every [`POLL_INTERVAL`] (and soon after each of its watcher events), and
//! samples the sparkline history.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Weak};
use std::time::Duration;

use clusterd_protocol::Request;
use serde_json::{Map, Value};
use tokio::sync::mpsc;
use tracing::debug;

use super::{ClusterView, HISTORY_STEP};
use crate::link::NodeState;
use crate::streams::TapKind;
use crate::Ctx;

/// How often every reachable node is asked for its watchers' statuses.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);
/// After a watcher event, the node is asked again this soon (events come in bursts).
const AFTER_EVENT: Duration = Duration::from_millis(300);

/// Starts keeping a view of `ctx`'s cluster; the tasks end when the master's context is gone.
pub fn start(ctx: &Arc<Ctx>) -> Arc<ClusterView> {
    let view = Arc::new(ClusterView::default());
    let (dirty_tx, dirty_rx) = mpsc::channel::<String>(1024);
    let mut tap = ctx.registry.streams().subscribe();
    let reader = view.clone();
    tokio::spawn(async move {
        while let Some(message) = tap.recv().await {
            let Some(node) = message.node.as_deref() else { continue };
            match message.kind {
                TapKind::Stat => reader.on_stat(node, &message.topic, &message.payload),
                TapKind::Event => {
                    if reader.on_event(node, &message.topic, &message.payload).is_some_and(|e| e.watcher.is_some()) {
                        let _ = dirty_tx.try_send(node.to_string());
                    }
                }
            }
        }
    });
    tokio::spawn(poll(Arc::downgrade(ctx), view.clone(), dirty_rx));
    view
}

async fn poll(ctx: Weak<Ctx>, view: Arc<ClusterView>, mut dirty: mpsc::Receiver<String>) {
    let mut every = tokio::time::interval(POLL_INTERVAL);
    let mut history = tokio::time::interval(HISTORY_STEP);
    let mut pending = BTreeSet::new();
    loop {
        let names = tokio::select! {
            _ = every.tick() => None,
            _ = history.tick() => {
                let Some(ctx) = ctx.upgrade() else { return };
                view.sample_history(&ctx.registry.names());
                continue;
            }
            Some(node) = dirty.recv() => {
                pending.insert(node);
                tokio::time::sleep(AFTER_EVENT).await;
                while let Ok(node) = dirty.try_recv() {
                    pending.insert(node);
                }
                Some(std::mem::take(&mut pending))
            }
        };
        let Some(ctx) = ctx.upgrade() else { return };
        let all = ctx.registry.names();
        view.retain_nodes(&all);
        let names: Vec<String> = names.map_or(all, |set| set.into_iter().collect());
        let asked = names
            .into_iter()
            .filter_map(|name| ctx.registry.get(&name))
            .filter(|node| node.link.health().state != NodeState::Down);
        let timeout = ctx.settings().node_timeout;
        let calls = asked.map(|node| async move {
            let reply = node.link.call(Request::new("status", Map::new()), timeout).await;
            (node.name.clone(), reply)
        });
        for (name, reply) in futures::future::join_all(calls).await {
            match reply.map(|r| r.0.get("statuses").cloned()) {
                Ok(Some(Value::Object(statuses))) => {
                    let statuses: BTreeMap<String, String> = statuses
                        .into_iter()
                        .filter_map(|(watcher, status)| Some((watcher, status.as_str()?.to_string())))
                        .collect();
                    view.set_statuses(&name, &statuses);
                }
                Ok(_) => debug!(node = %name, "status reply without statuses"),
                Err(err) => debug!(node = %name, cause = %err.describe(&name), "status poll failed"),
            }
        }
    }
}
