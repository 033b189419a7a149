//! The desired state shared between several masters (`registry = "etcd"`, docs/ha.md): where
//! it is kept is not placement's business, so the store is a trait that `crate::etcd` provides
//! ([`crate::etcd`] depends on placement, never the other way round).
//!
//! With a shared store only the leading master decides (place, move, drain, undrain, rm of a
//! placed watcher, failover, conciliation), each decision is written there before it is answered,
//! and a write that etcd refuses (this master was deposed, or etcd is gone) undoes the decision.

use std::future::Future;
use std::pin::Pin;

use clusterd_protocol::{Errno, Reply};
use serde_json::Value;

use crate::config::RegistryKind;
use crate::Ctx;

/// A boxed write, as a trait object can return it.
pub type Writing<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// Where the desired state is shared.
pub trait SharedStore: Send + Sync {
    /// Why this master may not make a placement decision now (`None`: it may): etcd is
    /// unreachable, another master leads, or this one was just elected and has not read the
    /// shared state yet.
    fn refusal(&self) -> Option<String>;

    /// Writes what changed in the desired state since the last write. On an error the desired
    /// state is put back as the store has it: the decision did not happen.
    fn write(&self) -> Writing<'_>;
}

/// Why no placement decision may be made on this master now; `None` with the state file.
pub fn refusal(ctx: &Ctx) -> Option<String> {
    match ctx.placement.shared.get() {
        Some(store) => store.refusal(),
        // With etcd configured but its tasks not started yet (start-up), nothing is decided.
        None if ctx.settings().registry.kind == RegistryKind::Etcd => {
            Some("registry unavailable (etcd: not connected yet)".to_string())
        }
        None => None,
    }
}

/// [`refusal`] as the errno 3 reply of a command that would change placements.
///
/// # Errors
/// The reply to send instead of deciding.
pub fn may_decide(ctx: &Ctx) -> Result<(), Reply> {
    match refusal(ctx) {
        Some(reason) => Err(Reply::error(Errno::MessageError, &reason, Value::Null)),
        None => Ok(()),
    }
}
