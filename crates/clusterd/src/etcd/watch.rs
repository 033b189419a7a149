//! etcd to this master: the node keys read at once (revision R) and watched from R + 1, each
//! change applied to the registry without being written back. After any failure (etcd gone,
//! the watch cancelled by a compaction) the whole prefix is read again and the registry
//! reconciled with it, so a master that missed changes converges.

use std::collections::BTreeSet;
use std::sync::Arc;

use etcd_client::{EventType, GetOptions, KeyValue, WatchOptions};
use tracing::{debug, info, warn};

use super::{bounded, connect, record, Keys, RETRY_EVERY};
use crate::learn::learn_streams_in_background;
use crate::registry::Source;
use crate::Ctx;

/// Follows the node keys until the master stops.
pub async fn run(ctx: Arc<Ctx>, keys: Keys, endpoints: Vec<String>) {
    loop {
        if let Err(reason) = follow(&ctx, &keys, &endpoints).await {
            debug!(%reason, "etcd watch interrupted; reading the registry again");
        }
        tokio::time::sleep(RETRY_EVERY).await;
    }
}

async fn follow(ctx: &Ctx, keys: &Keys, endpoints: &[String]) -> Result<(), String> {
    let mut client = connect(endpoints).await?;
    let read = bounded("read the registry", client.get(keys.nodes(), Some(GetOptions::new().with_prefix()))).await?;
    let revision = read.header().map_or(0, |header| header.revision());
    reconcile(ctx, keys, read.kvs());
    let options = WatchOptions::new().with_prefix().with_start_revision(revision + 1);
    let mut stream = bounded("watch the registry", client.watch(keys.nodes(), Some(options))).await?;
    loop {
        let Some(reply) = stream.message().await.map_err(|e| e.to_string())? else {
            return Err("watch stream closed".into());
        };
        if reply.canceled() {
            return Err(format!("watch cancelled: {}", reply.cancel_reason()));
        }
        for event in reply.events() {
            let Some(kv) = event.kv() else { continue };
            let Ok(key) = kv.key_str() else { continue };
            let Some(name) = keys.node_name(key) else { continue };
            match event.event_type() {
                EventType::Put => put(ctx, kv),
                EventType::Delete => delete(ctx, name),
            }
        }
    }
}

/// Makes the registered and discovered nodes those of `kvs`; configured nodes stay as they are.
fn reconcile(ctx: &Ctx, keys: &Keys, kvs: &[KeyValue]) {
    let mut shared = BTreeSet::new();
    for kv in kvs {
        if let Some(name) = kv.key_str().ok().and_then(|key| keys.node_name(key)) {
            shared.insert(name.to_string());
            put(ctx, kv);
        }
    }
    for node in ctx.registry.all() {
        if node.source != Source::Config && !shared.contains(&node.name) {
            delete(ctx, &node.name);
        }
    }
}

/// A node key written (by any master): added or replaced here unless it already is so.
fn put(ctx: &Ctx, kv: &KeyValue) {
    let decoded = kv.value_str().map_err(|e| e.to_string()).and_then(record::decode);
    let (spec, source) = match decoded {
        Ok(node) => node,
        Err(reason) => {
            warn!(key = ?kv.key_str(), %reason, "ignoring a bad node record in etcd");
            return;
        }
    };
    if let Some(node) = ctx.registry.get(&spec.name) {
        if node.source == Source::Config || record::matches(&node, &spec, source) {
            return;
        }
    }
    match crate::identity::admit(&ctx.registry, &spec, source) {
        // The master that registered it renames the discovered entry in etcd too.
        Ok(Some(found)) => drop(ctx.registry.remove_shared(&found.name)),
        Ok(None) => {}
        Err(reason) => {
            info!(node = %spec.name, %reason, "node from etcd not added here");
            return;
        }
    }
    match ctx.registry.apply_shared(spec, source) {
        Ok((node, _)) => {
            info!(node = %node.name, endpoint = %node.endpoint, "node from the shared registry");
            learn_streams_in_background(&node, ctx.settings().node_timeout);
        }
        Err(err) => warn!(cause = %err, "cannot add a node from the shared registry"),
    }
}

/// A node key deleted: the node goes here too (a configured one stays).
fn delete(ctx: &Ctx, name: &str) {
    if ctx.registry.get(name).is_some_and(|node| node.source != Source::Config) {
        info!(node = %name, "node removed from the shared registry");
        ctx.registry.remove_shared(name);
    }
}
