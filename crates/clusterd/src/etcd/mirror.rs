//! Registry changes made on this master, written to etcd in the order they happened.
//!
//! `register_node` and `unregister_node` are plain puts and deletes (any master takes them);
//! a discovered node and the forgetting of a node are the leader's decisions, written fenced on
//! its leadership ([`super::fence`]): a deposed leader's late decision is refused by etcd and
//! undone here (the watch gives the cluster's view back). A write that fails because etcd does
//! not answer is retried until it applies: registrations are refused while etcd is unavailable,
//! so only changes accepted just before it went away wait here.

use std::sync::Arc;

use etcd_client::{Client, TxnOp};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use super::fence::{self, FenceError};
use super::{connect, record, Keys, RETRY_EVERY};
use crate::registry::{Mirror, Mirrored, Source};
use crate::Ctx;

/// The writer task and the channel that feeds it.
pub struct Writer {
    pub task: JoinHandle<()>,
    sender: mpsc::UnboundedSender<Mirrored>,
}

impl Writer {
    /// What the registry calls on each change (never blocks: the change is queued).
    pub fn sink(&self) -> Mirror {
        let sender = self.sender.clone();
        Box::new(move |change| {
            let _ = sender.send(change);
        })
    }
}

/// Starts the writer.
pub fn start(ctx: Arc<Ctx>, keys: Keys, endpoints: Vec<String>) -> Writer {
    let (sender, changes) = mpsc::unbounded_channel();
    let task = tokio::spawn(run(ctx, keys, endpoints, changes));
    Writer { task, sender }
}

async fn run(ctx: Arc<Ctx>, keys: Keys, endpoints: Vec<String>, mut changes: mpsc::UnboundedReceiver<Mirrored>) {
    let mut client: Option<Client> = None;
    while let Some(change) = changes.recv().await {
        loop {
            let etcd = match &mut client {
                Some(etcd) => etcd,
                None => match connect(&endpoints).await {
                    Ok(etcd) => client.insert(etcd),
                    Err(reason) => {
                        debug!(%reason, "registry write waits for etcd");
                        tokio::time::sleep(RETRY_EVERY).await;
                        continue;
                    }
                },
            };
            match apply(&ctx, &keys, etcd, &change).await {
                Ok(()) => break,
                Err(FenceError::Deposed(revision)) => {
                    warn!(?change, revision, "decision refused by etcd: this master no longer leads");
                    undo(&ctx, &change);
                    break;
                }
                Err(FenceError::Etcd(reason)) => {
                    debug!(%reason, ?change, "registry write failed; retrying");
                    client = None;
                    tokio::time::sleep(RETRY_EVERY).await;
                }
            }
        }
    }
}

/// Writes one change; the leader's decisions fenced on its leadership.
async fn apply(ctx: &Ctx, keys: &Keys, etcd: &mut Client, change: &Mirrored) -> Result<(), FenceError> {
    let (op, decision) = match change {
        Mirrored::Put(spec, source) => {
            let value = record::encode(spec, *source);
            (TxnOp::put(keys.node(&spec.name), value, None), *source == Source::Discovered)
        }
        Mirrored::Delete { name, forgotten } => (TxnOp::delete(keys.node(name), None), *forgotten),
    };
    if !decision {
        let txn = etcd_client::Txn::new().and_then([op]);
        return super::bounded("registry write", etcd.txn(txn)).await.map(drop).map_err(FenceError::Etcd);
    }
    // A decision taken while leading, written after the leadership went: refused like any
    // deposed leader's write.
    let Some(fence) = ctx.shared.fence() else { return Err(FenceError::Deposed(0)) };
    fence::write(etcd, &fence, vec![op]).await
}

/// A refused decision is taken back here: the other masters never saw it.
fn undo(ctx: &Ctx, change: &Mirrored) {
    if let Mirrored::Put(spec, Source::Discovered) = change {
        ctx.registry.remove_shared(&spec.name);
    }
    // A refused forget leaves the node gone here until the watch (re)reads it: the reconciling
    // read after the next reconnection, or the new leader's own decision.
}
