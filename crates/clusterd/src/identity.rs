//! One identity per circusd: a new entry may not reach a circusd another entry already names
//! (same command endpoint after [`Endpoint::normalized`](clusterd_protocol::Endpoint::normalized)),
//! nor take a name that differs from another only in case. The same circusd twice would be
//! counted twice by `numprocesses` and commanded twice by patterns (circusd then refuses the
//! second `restart` with `arbiter is already running ...`).

use std::collections::BTreeSet;
use std::sync::Arc;

use tracing::warn;

use crate::config::NodeSpec;
use crate::registry::{Node, Registry, Source};

/// Checks that `spec`, about to be added from `source`, names a circusd and a name no other
/// entry has. The same name again is fine (it replaces its entry). Returns the `discovered`
/// entry of the same circusd that the new one replaces (a friendly name for a found node).
///
/// # Errors
/// The reason names the entry that is already there.
pub fn admit(registry: &Registry, spec: &NodeSpec, source: Source) -> Result<Option<Arc<Node>>, String> {
    let mut replaces = None;
    let endpoint = spec.endpoint.normalized();
    for node in registry.all() {
        if node.name == spec.name {
            continue;
        }
        if node.name.eq_ignore_ascii_case(&spec.name) {
            return Err(format!(
                "node name '{}' differs only in case from node '{}': refused (names are case-sensitive, \
                 such pairs would be mistaken for one another)",
                spec.name, node.name
            ));
        }
        // The port first: cheap, and most entries differ there (registrations at scale).
        if node.endpoint.port() != spec.endpoint.port() || node.endpoint.normalized() != endpoint {
            continue;
        }
        if node.source == Source::Discovered && source != Source::Discovered {
            replaces = Some(node);
        } else {
            return Err(format!(
                "{} is already node '{}' ({}, {}): one entry per circusd; use that name, or unregister_node {} first",
                spec.endpoint,
                node.name,
                node.endpoint,
                node.source.as_str(),
                node.name
            ));
        }
    }
    Ok(replaces)
}

/// The other entries whose circusd has the same pid and command port as `node`'s, as the
/// probes learnt them: the same daemon reached under two addresses (a host name and its IP).
pub fn same_circusd(registry: &Registry, node: &Node) -> Vec<String> {
    let Some(pid) = node.link.health().circusd_pid else {
        return Vec::new();
    };
    registry
        .all()
        .iter()
        .filter(|other| other.name != node.name && other.endpoint.port() == node.endpoint.port())
        .filter(|other| other.link.health().circusd_pid == Some(pid))
        .map(|other| other.name.clone())
        .collect()
}

/// Logs, once per pair, entries that the probes found to be the same circusd; `logged` keeps the
/// pairs already logged.
pub fn log_same_circusd(registry: &Registry, logged: &mut BTreeSet<(String, String)>) {
    for node in registry.all() {
        for other in same_circusd(registry, &node) {
            if node.name < other && logged.insert((node.name.clone(), other.clone())) {
                warn!(
                    node = %node.name, other = %other, pid = node.link.health().circusd_pid,
                    "two entries reach the same circusd (same pid and port): it is counted and commanded twice"
                );
            }
        }
    }
}
