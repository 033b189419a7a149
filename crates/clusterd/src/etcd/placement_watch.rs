//! Every master follows `<prefix>/placement/`: the keys read in full (revision R), then watched
//! from R + 1 and applied, so that `placements` answers the same on every master.
//!
//! The full read is made again after any interruption and whenever this master's leadership
//! changes: a master that has just won reads what the leader before it decided (every write of
//! that leader that etcd accepted came before the election passed), and only then decides
//! ([`super::placement_store::Store`] refuses until then). While it leads, the events are its
//! own writes, already applied here, and are skipped.

use std::sync::Arc;
use std::time::Duration;

use etcd_client::{EventType, GetOptions, KeyValue, WatchOptions};
use tracing::{debug, info, warn};

use super::keys::PlacementKey;
use super::placement_store::{decode, Store};
use super::{bounded, connect, Keys, RETRY_EVERY};
use crate::placement::Desired;
use crate::Ctx;

/// How often the leadership is compared with the one the last full read was made under.
const LOOK_EVERY: Duration = Duration::from_millis(200);

/// Follows the placement keys until the master stops.
pub async fn run(ctx: Arc<Ctx>, store: Arc<Store>, endpoints: Vec<String>) {
    loop {
        if let Err(reason) = follow(&ctx, &store, &endpoints).await {
            debug!(%reason, "placement watch interrupted; reading the placement state again");
        }
        tokio::time::sleep(RETRY_EVERY).await;
    }
}

fn leadership(ctx: &Ctx) -> Option<i64> {
    ctx.shared.fence().map(|fence| fence.revision)
}

async fn follow(ctx: &Ctx, store: &Store, endpoints: &[String]) -> Result<(), String> {
    let leading = leadership(ctx);
    let keys = store.keys().clone();
    let mut client = connect(endpoints).await?;
    // No decision between this read and its load (see `Store::load_deciding`).
    let deciding = ctx.placement.deciding().await;
    let read =
        bounded("read the placements", client.get(keys.placement(), Some(GetOptions::new().with_prefix()))).await?;
    let revision = read.header().map_or(0, |header| header.revision());
    let desired = read_back(&keys, read.kvs());
    if leading.is_some() {
        info!(placements = desired.placements.len(), revision, "leading: placement state read from etcd");
    }
    store.load_deciding(ctx, desired, leading).await;
    drop(deciding);
    let options = WatchOptions::new().with_prefix().with_start_revision(revision + 1);
    let mut stream = bounded("watch the placements", client.watch(keys.placement(), Some(options))).await?;
    let mut look = tokio::time::interval(LOOK_EVERY);
    loop {
        tokio::select! {
            _ = look.tick() => if leadership(ctx) != leading {
                return Err("the leadership changed".into());
            },
            reply = stream.message() => {
                let Some(reply) = reply.map_err(|e| e.to_string())? else {
                    return Err("watch stream closed".into());
                };
                if reply.canceled() {
                    return Err(format!("watch cancelled: {}", reply.cancel_reason()));
                }
                if leading.is_some() {
                    continue;
                }
                for event in reply.events() {
                    let Some(kv) = event.kv() else { continue };
                    let deleted = event.event_type() == EventType::Delete;
                    apply(&keys, &mut store.written(), kv, deleted);
                    apply(&keys, &mut ctx.placement.desired(), kv, deleted);
                }
            }
        }
    }
}

/// The desired state the placement keys `kvs` hold.
pub fn read_back(keys: &Keys, kvs: &[KeyValue]) -> Desired {
    let mut desired = Desired::default();
    for kv in kvs {
        apply(keys, &mut desired, kv, false);
    }
    desired
}

/// One placement key written (or deleted) applied to `desired`; a bad value is skipped.
fn apply(keys: &Keys, desired: &mut Desired, kv: &KeyValue, deleted: bool) {
    let Some(key) = kv.key_str().ok().and_then(|key| keys.placement_key(key)) else { return };
    match (key, deleted) {
        (PlacementKey::Watcher(name), true) => drop(desired.placements.remove(name)),
        (PlacementKey::Watcher(name), false) => match kv.value_str().map_err(|e| e.to_string()).and_then(decode) {
            Ok(placement) if placement.name == name => drop(desired.placements.insert(name.into(), placement)),
            Ok(placement) => warn!(key = name, named = %placement.name, "ignoring a placement under another name"),
            Err(reason) => warn!(watcher = name, %reason, "ignoring a bad placement record in etcd"),
        },
        (PlacementKey::Drained(node), true) => drop(desired.drained.remove(node)),
        (PlacementKey::Drained(node), false) => drop(desired.drained.insert(node.into())),
        (PlacementKey::Epoch, true) => {}
        (PlacementKey::Epoch, false) => match kv.value_str().ok().and_then(|v| v.parse::<u64>().ok()) {
            Some(epoch) => desired.epoch = epoch,
            None => warn!("ignoring a bad placement epoch in etcd"),
        },
    }
}
