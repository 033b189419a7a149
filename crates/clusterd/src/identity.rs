//! One identity per circusd: a new entry may not reach a circusd another entry already names
//! (same command endpoint after [`Endpoint::normalized`](clusterd_protocol::Endpoint::normalized)),
//! nor take a name that differs from another only in case. The same circusd twice would be
//! counted twice by `numprocesses` and commanded twice by patterns (circusd then refuses the
//! second `restart` with `arbiter is already running ...`).

use std::collections::{BTreeSet, HashMap};
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

/// For each entry whose circusd another entry also reaches (same pid and command port, as the
/// probes learnt them: one daemon under two addresses, a host name and its IP), the names of
/// those others. One pass over the registry: `nodes` and the reaper's tick read it for every
/// node, which a per-node scan of the registry made quadratic.
pub fn same_circusd_map(registry: &Registry) -> HashMap<String, Vec<String>> {
    let mut by_daemon: HashMap<(u64, Option<u16>), Vec<String>> = HashMap::new();
    for node in registry.all() {
        if let Some(pid) = node.link.health().circusd_pid {
            by_daemon.entry((pid, node.endpoint.port())).or_default().push(node.name.clone());
        }
    }
    let mut others = HashMap::new();
    for names in by_daemon.into_values().filter(|names| names.len() > 1) {
        for name in &names {
            others.insert(name.clone(), names.iter().filter(|other| *other != name).cloned().collect());
        }
    }
    others
}

/// Logs, once per pair, entries that the probes found to be the same circusd; `logged` keeps the
/// pairs already logged.
pub fn log_same_circusd(registry: &Registry, logged: &mut BTreeSet<(String, String)>) {
    for (node, others) in same_circusd_map(registry) {
        for other in others {
            if node < other && logged.insert((node.clone(), other.clone())) {
                let pid = registry.get(&node).and_then(|entry| entry.link.health().circusd_pid);
                warn!(
                    node = %node, other = %other, pid,
                    "two entries reach the same circusd (same pid and port): it is counted and commanded twice"
                );
            }
        }
    }
}
