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
    Admission::of(registry).admit(spec, source)
}

/// The registry's entries by case-folded name and by normalized endpoint, for [`admit`]: built
/// once (one pass), it admits a batch of entries (a state file's thousands of saved nodes,
/// which a scan of the registry per entry made quadratic) with [`Admission::admitted`] told of
/// each one added.
pub struct Admission {
    by_name: HashMap<String, Vec<Arc<Node>>>,
    by_endpoint: HashMap<String, Vec<Arc<Node>>>,
}

impl Admission {
    /// The registry's entries now.
    pub fn of(registry: &Registry) -> Admission {
        let mut admission = Admission { by_name: HashMap::new(), by_endpoint: HashMap::new() };
        for node in registry.all() {
            admission.admitted(node);
        }
        admission
    }

    /// `node` was added: later entries are checked against it too.
    pub fn admitted(&mut self, node: Arc<Node>) {
        self.by_name.entry(node.name.to_ascii_lowercase()).or_default().push(node.clone());
        self.by_endpoint.entry(node.endpoint.normalized()).or_default().push(node);
    }

    /// [`admit`] against the entries known to this admission.
    ///
    /// # Errors
    /// The reason names the entry that is already there.
    pub fn admit(&self, spec: &NodeSpec, source: Source) -> Result<Option<Arc<Node>>, String> {
        let lower = spec.name.to_ascii_lowercase();
        let endpoint = spec.endpoint.normalized();
        let same_name = self.by_name.get(&lower).into_iter().flatten();
        let same_endpoint = self.by_endpoint.get(&endpoint).into_iter().flatten();
        // In name order, as a scan of the registry meets them: the first clash is the one named.
        let mut clashes: Vec<&Arc<Node>> =
            same_name.chain(same_endpoint).filter(|node| node.name != spec.name).collect();
        clashes.sort_by(|a, b| a.name.cmp(&b.name));
        clashes.dedup_by(|a, b| a.name == b.name);
        let mut replaces = None;
        for node in clashes {
            if node.name.eq_ignore_ascii_case(&spec.name) {
                return Err(format!(
                    "node name '{}' differs only in case from node '{}': refused (names are case-sensitive, \
                     such pairs would be mistaken for one another)",
                    spec.name, node.name
                ));
            }
            if node.source == Source::Discovered && source != Source::Discovered {
                replaces = Some(node.clone());
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
