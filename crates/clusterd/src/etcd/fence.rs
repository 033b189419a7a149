//! Writes fenced on the leadership: a leader's decision is a transaction that only applies
//! while its election key still exists with the creation revision it won with. A deposed leader
//! (its lease expired while it was frozen or cut off, and another master won) writes late: etcd
//! refuses the transaction, whatever the deposed master still believes. Leases alone cannot give
//! mutual exclusion to a slow client; the revision check can.

use etcd_client::{Client, Compare, CompareOp, Txn, TxnOp};

/// A won election: the leader key and the revision it was created at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    /// The election key of this master's campaign.
    pub key: Vec<u8>,
    /// Its creation revision.
    pub revision: i64,
}

/// Why a fenced write did not apply.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FenceError {
    /// The leadership is gone: another master leads, or none does.
    #[error("not the leader any more (the leader key of revision {0} is gone): write refused")]
    Deposed(i64),
    /// etcd did not answer or refused the transaction.
    #[error("{0}")]
    Etcd(String),
}

/// Applies `ops` in one transaction, only if `fence` still holds.
///
/// # Errors
/// [`FenceError::Deposed`] when the leadership is gone; [`FenceError::Etcd`] when etcd failed.
pub async fn write(client: &mut Client, fence: &Fence, ops: Vec<TxnOp>) -> Result<(), FenceError> {
    let txn =
        Txn::new().when([Compare::create_revision(fence.key.clone(), CompareOp::Equal, fence.revision)]).and_then(ops);
    let reply = super::bounded("fenced write", client.txn(txn)).await.map_err(FenceError::Etcd)?;
    if reply.succeeded() {
        Ok(())
    } else {
        Err(FenceError::Deposed(fence.revision))
    }
}

#[cfg(test)]
#[path = "fence_tests.rs"]
mod tests;
