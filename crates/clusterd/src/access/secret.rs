//! `register_secret`: `register_node` and `unregister_node` must carry it as `secret`, so that
//! nobody who merely reaches the command endpoint can slip a rogue node into the cluster (which
//! would then receive commands, and could answer them falsely) or take a node out.

use clusterd_protocol::{Errno, Reply, Request};
use serde_json::Value;

use crate::handler::table;
use crate::Ctx;

/// Checks the secret of the commands that need one (the command table's `needs_secret`).
///
/// # Errors
/// An errno 3 reply.
pub fn check_if_needed(ctx: &Ctx, request: &Request) -> Result<(), Reply> {
    match table::find(&request.command) {
        Some(row) if row.needs_secret => check(ctx, request),
        _ => Ok(()),
    }
}

/// Checks `properties.secret` of a registry command against `register_secret`, when set.
/// The reason is the same for a missing and a wrong secret, and never shows either.
///
/// # Errors
/// An errno 3 reply.
pub fn check(ctx: &Ctx, request: &Request) -> Result<(), Reply> {
    let Some(expected) = ctx.settings().register_secret.clone() else {
        return Ok(());
    };
    let offered = match request.properties.get("secret") {
        Some(Value::String(offered)) => offered.as_str(),
        _ => "",
    };
    if !offered.is_empty() && expected.matches(offered) {
        return Ok(());
    }
    let reason = format!(
        "register_secret is set: {} needs the right \"secret\" (the worker ini's secret, or \
         clusterctl --secret / CLUSTERCTL_SECRET)",
        request.command
    );
    Err(Reply::error(Errno::MessageError, &reason, Value::Null))
}
