//! Access control around the one dispatcher ([`crate::handler::handle`]): which endpoint a
//! request came in on and what that endpoint allows ([`readonly`]), the `register_secret`
//! check ([`secret`]), and the audit trail of every command that changes something ([`audit`]).
//!
//! The Circus protocol has no authentication, so none of this identifies a person: the client
//! identity in the audit log is the ZeroMQ identity the client chose. What protects the cluster
//! is who can reach the endpoints at all (loopback by default, `config::ClusterSettings::check_access`);
//! see docs/security.md.

pub mod audit;
pub mod audit_file;
pub mod readonly;
pub mod secret;
pub mod tally;

use clusterd_protocol::Request;
use tracing::warn;

use crate::config::{ClusterSettings, SECURITY_DOC};
use crate::handler::{self, Answer};
use crate::Ctx;

/// The endpoint a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    /// The command endpoint: every command.
    Command,
    /// `readonly_endpoint`: commands that change nothing.
    Readonly,
    /// The HTTP API (`http_endpoint`); its identity is `http:<peer address>`.
    Http,
}

impl Door {
    /// As shown in the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            Door::Command => "command",
            Door::Readonly => "readonly",
            Door::Http => "http",
        }
    }
}

/// Handles one decoded request that came in on `door` from the client `identity` (the ROUTER's
/// identity frame): refused when the door does not allow it or the `register_secret` is missing
/// or wrong, audited when it changes something.
pub async fn handle(ctx: &Ctx, door: Door, identity: &[u8], request: Request) -> Answer {
    let audit = audit::Entry::begin(ctx, door, identity, &request);
    let command = request.command.clone();
    let admitted = readonly::admit(door, &request).and_then(|()| secret::check_if_needed(ctx, &request));
    let answer = match admitted {
        Ok(()) => handler::handle(ctx, request).await,
        Err(mut reply) => {
            // Clients match replies by id (circusctl ignores any other).
            reply.set_id(request.id);
            reply.into()
        }
    };
    ctx.commands.count(&command, &answer.reply);
    if let Some(entry) = audit {
        entry.finish(&answer.reply);
    }
    answer
}

/// Logs the one start-up warning of `allow_remote = true`: anyone who reaches these endpoints
/// can run any command on every node.
pub fn warn_if_remote(settings: &ClusterSettings) {
    if !settings.allow_remote {
        return;
    }
    let remote: Vec<String> = settings.remote_endpoints().iter().map(|(key, ep)| format!("{key}={ep}")).collect();
    warn!(
        remote = %remote.join(" "),
        "allow_remote = true: the Circus protocol is unauthenticated, anyone who reaches the command \
         endpoint can run any command on every node; see {SECURITY_DOC}"
    );
}
