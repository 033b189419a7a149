//! Placement's desired state in etcd (`<prefix>/placement/`, [`super::keys`]): one key per
//! placed watcher, one per drained node, and the assignment epoch.
//!
//! Only the leader writes, and only what changed since its last write (a decision touches a
//! key or two, far below etcd's limit of operations per transaction), in a transaction fenced on
//! its leadership ([`super::fence`]): a deposed leader's late decision is refused by etcd and
//! taken back here, so it never acts on it. Every master reads the keys and follows them
//! ([`super::placement_watch`]); a newly elected leader decides only once it has read them
//! after winning, so it sees every decision of the leader before it.

use std::sync::{Arc, Mutex, MutexGuard, Weak};

use etcd_client::{Client, TxnOp};

use super::fence::{self, FenceError};
use super::{connect, Keys};
use crate::placement::shared::{SharedStore, Writing};
use crate::placement::{Desired, Placement};
use crate::Ctx;

/// The most operations in one fenced transaction (etcd's default `--max-txn-ops` is 128).
const OPS_PER_TXN: usize = 100;

/// The shared desired state of one master.
pub struct Store {
    ctx: Weak<Ctx>,
    keys: Keys,
    endpoints: Vec<String>,
    /// The client for writes; its lock also keeps writes and full reads in order.
    client: tokio::sync::Mutex<Option<Client>>,
    /// The desired state as etcd has it, as far as this master knows.
    written: Mutex<Desired>,
    /// The leadership (election key revision) the last full read was made under: a leader
    /// decides only once it has read the shared state after winning.
    loaded_for: Mutex<Option<i64>>,
}

impl Store {
    /// The store of `ctx`'s cluster under `keys`.
    pub fn new(ctx: &Arc<Ctx>, keys: Keys, endpoints: Vec<String>) -> Store {
        Store {
            ctx: Arc::downgrade(ctx),
            keys,
            endpoints,
            client: tokio::sync::Mutex::new(None),
            written: Mutex::new(Desired::default()),
            loaded_for: Mutex::new(None),
        }
    }

    pub(super) fn keys(&self) -> &Keys {
        &self.keys
    }

    pub(super) fn written(&self) -> MutexGuard<'_, Desired> {
        self.written.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn loaded_for(&self) -> MutexGuard<'_, Option<i64>> {
        self.loaded_for.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Makes `desired` (read from etcd in full, while `leading` was this master's leadership)
    /// the desired state here; the `held` notes of this master's failover task stay.
    #[cfg(test)]
    pub(super) async fn load(&self, ctx: &Ctx, desired: Desired, leading: Option<i64>) {
        // Not in the middle of a decision: its change would be replaced here and then found
        // already written (an empty difference), answered as recorded while it is not.
        let _deciding = ctx.placement.deciding().await;
        self.load_deciding(ctx, desired, leading).await;
    }

    /// The load for a caller that holds the decisions' lock since before it read
    /// `desired`: a decision recorded between that read and this load would otherwise be
    /// replaced by the older state (and, on the leader, decided again).
    pub(super) async fn load_deciding(&self, ctx: &Ctx, desired: Desired, leading: Option<i64>) {
        let _writes = self.client.lock().await;
        *self.written() = desired.clone();
        let mut local = ctx.placement.desired();
        let held = std::mem::take(&mut *local);
        *local = with_held_of(desired, &held);
        *self.loaded_for() = leading;
    }

    /// Puts the desired state back to what etcd has: the decision being written did not happen.
    fn take_back(&self, ctx: &Ctx) {
        let written = self.written().clone();
        let mut local = ctx.placement.desired();
        let held = std::mem::take(&mut *local);
        *local = with_held_of(written, &held);
    }

    async fn write_changes(&self) -> Result<(), String> {
        let ctx = self.ctx.upgrade().ok_or("the master is stopping")?;
        let mut client = self.client.lock().await;
        let result = self.write_with(&ctx, &mut client).await;
        if result.is_err() {
            self.take_back(&ctx);
        }
        result
    }

    async fn write_with(&self, ctx: &Ctx, client: &mut Option<Client>) -> Result<(), String> {
        let Some(fence) = ctx.shared.fence() else {
            return Err(self.refusal_of(ctx).unwrap_or_else(|| "this master does not lead".into()));
        };
        let after = without_held(ctx.placement.desired().clone());
        let ops = diff(&self.keys, &self.written(), &after);
        if ops.is_empty() {
            return Ok(());
        }
        let etcd = match client {
            Some(etcd) => etcd,
            None => client.insert(connect(&self.endpoints).await.map_err(unavailable)?),
        };
        let mut ops = ops.into_iter().peekable();
        while ops.peek().is_some() {
            let chunk: Vec<TxnOp> = ops.by_ref().take(OPS_PER_TXN).collect();
            if let Err(err) = fence::write(etcd, &fence, chunk).await {
                *client = None;
                return Err(match err {
                    FenceError::Deposed(_) => err.to_string(),
                    FenceError::Etcd(reason) => unavailable(reason),
                });
            }
        }
        *self.written() = after;
        Ok(())
    }

    fn refusal_of(&self, ctx: &Ctx) -> Option<String> {
        if let Some(reason) = ctx.shared.unavailable() {
            return Some(reason);
        }
        let me = ctx.shared.master();
        let Some(fence) = ctx.shared.fence() else {
            return Some(match ctx.shared.leader() {
                Some(leader) if leader != me => format!(
                    "not the leader: placement decisions are made by the leading master '{leader}' (this is \
                     '{me}'); send place, rm of a placed watcher, drain and undrain to it"
                ),
                _ => format!("no master leads yet (this is '{me}'): placement decisions wait for the election"),
            });
        };
        (*self.loaded_for() != Some(fence.revision)).then(|| {
            format!("taking over: '{me}' was just elected and is reading the placement state from etcd; try again")
        })
    }
}

impl SharedStore for Store {
    fn refusal(&self) -> Option<String> {
        let ctx = self.ctx.upgrade()?;
        self.refusal_of(&ctx)
    }

    fn write(&self) -> Writing<'_> {
        Box::pin(self.write_changes())
    }
}

fn unavailable(reason: String) -> String {
    format!("registry unavailable (etcd: {reason})")
}

/// `desired` without the `held` notes: they are each master's own view, not a decision.
pub fn without_held(mut desired: Desired) -> Desired {
    for placement in desired.placements.values_mut() {
        placement.held = None;
    }
    desired
}

/// `desired` with the `held` notes of `local`.
fn with_held_of(mut desired: Desired, local: &Desired) -> Desired {
    for (name, placement) in &mut desired.placements {
        placement.held = local.placements.get(name).and_then(|p| p.held.clone());
    }
    desired
}

/// One placed watcher's value.
pub fn encode(placement: &Placement) -> String {
    serde_json::to_string(placement).expect("a placement serializes")
}

/// One placed watcher read back.
///
/// # Errors
/// What is wrong with the value.
pub fn decode(text: &str) -> Result<Placement, String> {
    serde_json::from_str::<Placement>(text).map(|p| Placement { held: None, ..p }).map_err(|e| e.to_string())
}

/// The puts and deletes that turn `before` into `after` in etcd.
pub fn diff(keys: &Keys, before: &Desired, after: &Desired) -> Vec<TxnOp> {
    let mut ops = Vec::new();
    for (name, placement) in &after.placements {
        if before.placements.get(name) != Some(placement) {
            ops.push(TxnOp::put(keys.placed(name), encode(placement), None));
        }
    }
    for name in before.placements.keys().filter(|name| !after.placements.contains_key(*name)) {
        ops.push(TxnOp::delete(keys.placed(name), None));
    }
    for node in after.drained.difference(&before.drained) {
        ops.push(TxnOp::put(keys.drained(node), "", None));
    }
    for node in before.drained.difference(&after.drained) {
        ops.push(TxnOp::delete(keys.drained(node), None));
    }
    if after.epoch != before.epoch {
        ops.push(TxnOp::put(keys.epoch(), after.epoch.to_string(), None));
    }
    ops
}

#[cfg(test)]
#[path = "placement_store_tests.rs"]
mod tests;
