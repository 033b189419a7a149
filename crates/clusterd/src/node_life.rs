//! What happens to nodes over the master's life, besides requests: restoring the saved nodes at
//! start-up, saving them on every change, forgetting dynamic nodes that stay down, and
//! reloading the configuration (SIGHUP, or `reloadconfig` sent to the master).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clusterd_protocol::connection::ConnectionError;
use serde_json::{Map, Value};
use tracing::{error, info, warn};

use crate::config::{ClusterSettings, Config};
use crate::learn::learn_streams_in_background;
use crate::link::NodeState;
use crate::registry::{ProbePolicy, Source};
use crate::state::{StateError, StateFile};
use crate::Ctx;

/// How often the reaper looks for nodes to forget.
const REAP_EVERY: Duration = Duration::from_secs(1);

/// The probe policy of `settings`.
pub fn probe_policy(settings: &ClusterSettings) -> ProbePolicy {
    ProbePolicy {
        heartbeat: settings.heartbeat,
        down_after: settings.down_after,
        max_probes_per_sec: settings.max_probes_per_sec,
    }
}

/// Registers the nodes saved in `state`, except those the configuration declares (the
/// configuration wins). They are probed like any other and turn `alive` as they answer.
///
/// # Errors
/// The state file is corrupt or unreadable.
pub fn restore(ctx: &Ctx, state: &StateFile) -> Result<(), StateError> {
    let saved = state.load()?;
    let count = saved.len();
    let mut unstarted = Vec::new();
    let mut admission = crate::identity::Admission::of(&ctx.registry);
    for (spec, source) in saved {
        if ctx.registry.contains(&spec.name) {
            info!(node = %spec.name, "saved node also in the configuration: the configuration wins");
            continue;
        }
        if let Err(reason) = admission.admit(&spec, source) {
            info!(node = %spec.name, %reason, "saved node not restored: the configuration wins");
            continue;
        }
        match ctx.registry.insert(spec.clone(), source) {
            Ok((node, _)) => {
                admission.admitted(node.clone());
                learn_streams_in_background(&node, ctx.settings().node_timeout);
            }
            Err(ConnectionError::OutOfDescriptors(reason)) => {
                if unstarted.is_empty() {
                    error!(%reason, "saved nodes past the file-descriptor budget are not started");
                }
                unstarted.push((spec, source));
            }
            Err(err) => warn!(cause = %err, "cannot restore a saved node"),
        }
    }
    if count > 0 {
        info!(nodes = count - unstarted.len(), "restored saved nodes");
    }
    if !unstarted.is_empty() {
        let names: Vec<&str> = unstarted.iter().take(10).map(|(spec, _)| spec.name.as_str()).collect();
        error!(
            not_started = unstarted.len(),
            first = %names.join(","),
            "saved nodes not started (out of file descriptors): they stay in the state file for a restart with a higher limit"
        );
    }
    *ctx.unstarted.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = unstarted;
    // Their log agents too: an agent re-registers only when the master forgets its node, so a
    // restored node's agent would otherwise stay unknown (`logs` refused) until then.
    for (node, endpoint) in state.load_log_agents()? {
        if ctx.registry.get(&node).is_some_and(|node| node.source != Source::Config) && ctx.logs.get(&node).is_none() {
            ctx.logs.set(&node, Some(endpoint));
        }
    }
    Ok(())
}

/// Held while the state file is written: the last write of a stopping master must not meet a
/// write of [`persist`] on the same temporary file.
static SAVING: Mutex<()> = Mutex::new(());

/// Writes the registered and discovered nodes to `state` after every change of the registry,
/// until the master stops.
pub async fn persist(ctx: Arc<Ctx>, state: StateFile) {
    let changed = ctx.registry.changed();
    loop {
        changed.notified().await;
        flush(ctx.clone(), &state).await;
    }
}

/// Writes the registered and discovered nodes to `state` now (also the last act of a stopping
/// master, so that nothing registered just before is lost).
pub async fn flush(ctx: Arc<Ctx>, state: &StateFile) {
    let file = state.clone();
    let save = move || {
        // The nodes are read under the lock too, so that an older picture is never written
        // after a newer one.
        let _saving = SAVING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // A write that waited for the lock while the master stopped (the persist task, or
        // placement's) finds the registry closed: the master's last write stays the last.
        let Some(all) = ctx.registry.all_unless_closed() else { return Ok(()) };
        let mut nodes: Vec<_> =
            all.iter().filter(|node| node.source != Source::Config).map(|node| (node.spec(), node.source)).collect();
        // Saved nodes that could not start stay saved, unless registered again meanwhile.
        let unstarted = ctx.unstarted.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        nodes.extend(unstarted.into_iter().filter(|(spec, _)| !ctx.registry.contains(&spec.name)));
        let placements = ctx.placement.desired().to_saved();
        file.save_all(&nodes, &ctx.logs.all(), placements)
    };
    match tokio::task::spawn_blocking(save).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => warn!(cause = %err, "cannot save the state file"),
        Err(err) => warn!(cause = %err, "state file writer failed"),
    }
}

/// Forgets registered and discovered nodes that stayed `down` for `forget_after`; configured
/// nodes stay (the configuration says they exist).
/// Also logs entries that the probes found to be one circusd.
pub async fn reap(ctx: Arc<Ctx>) {
    let mut same_logged = std::collections::BTreeSet::new();
    loop {
        tokio::time::sleep(REAP_EVERY).await;
        crate::identity::log_same_circusd(&ctx.registry, &mut same_logged);
        let forget_after = ctx.settings().forget_after;
        // With several masters, only the leader forgets (the others follow through etcd).
        if !ctx.shared.may_decide() {
            continue;
        }
        for node in ctx.registry.all() {
            let health = node.link.health();
            if node.source != Source::Config
                && health.state == NodeState::Down
                && health.since.elapsed() >= forget_after
            {
                info!(node = %node.name, down_for = ?health.since.elapsed(), "forgetting a node that stayed down");
                ctx.registry.forget(&node.name);
            }
        }
    }
}

/// True when `node` is what `spec` declares (a stream endpoint learnt from the node counts as
/// declared when the configuration gives none).
fn declared_as(node: &crate::registry::Node, spec: &crate::config::NodeSpec) -> bool {
    let current = node.spec();
    current.endpoint == spec.endpoint
        && (spec.stats_endpoint.is_none() || current.stats_endpoint == spec.stats_endpoint)
        && (spec.pubsub_endpoint.is_none() || current.pubsub_endpoint == spec.pubsub_endpoint)
}

/// Reads the configuration file again and applies it: static nodes are added, changed and
/// removed, timeouts, probe settings, `max_message_size` and `register_secret` take effect at
/// once. Endpoint and `audit_log` changes need a restart and are reported as such. A bad file
/// changes nothing, and that includes one whose endpoints `allow_remote` does not allow
/// ([`Config::load`] checks them).
///
/// # Errors
/// Why the new configuration is refused (file, key and reason).
pub fn reload(ctx: &Ctx) -> Result<Map<String, Value>, String> {
    let config = Config::load(&ctx.config_path).map_err(|err| format!("configuration not reloaded: {err}"))?;
    let running = ctx.settings();
    let mut new = config.cluster.clone();
    let mut needs_restart = Vec::new();
    for (key, old, fresh) in [
        ("endpoint", &running.endpoint, &mut new.endpoint),
        ("stats_endpoint", &running.stats_endpoint, &mut new.stats_endpoint),
        ("pubsub_endpoint", &running.pubsub_endpoint, &mut new.pubsub_endpoint),
    ] {
        if old != fresh {
            needs_restart.push(key.to_string());
            *fresh = old.clone();
        }
    }
    // Bound or opened once at start-up, like the endpoints above.
    if running.readonly_endpoint != new.readonly_endpoint {
        needs_restart.push("readonly_endpoint".to_string());
        new.readonly_endpoint = running.readonly_endpoint.clone();
    }
    if running.audit_log != new.audit_log {
        needs_restart.push("audit_log".to_string());
        new.audit_log = running.audit_log.clone();
    }
    // The etcd tasks (lease, campaign, watch) run with the settings they started with.
    if running.registry != new.registry {
        needs_restart.push("registry".to_string());
        new.registry = running.registry.clone();
    }
    // Sizes the merged PUBs' queues, bound at start-up.
    if running.max_stream_message_size != new.max_stream_message_size {
        needs_restart.push("max_stream_message_size".to_string());
        new.max_stream_message_size = running.max_stream_message_size;
    }
    let wanted: BTreeSet<&str> = config.nodes.iter().map(|spec| spec.name.as_str()).collect();
    let (mut added, mut changed, mut removed, mut refused) = (Vec::new(), Vec::new(), Vec::new(), Map::new());
    for node in ctx.registry.all() {
        if node.source == Source::Config && !wanted.contains(node.name.as_str()) {
            ctx.registry.remove(&node.name);
            removed.push(node.name.clone());
        }
    }
    for spec in config.nodes {
        let current = ctx.registry.get(&spec.name);
        if current.as_ref().is_some_and(|node| node.source == Source::Config && declared_as(node, &spec)) {
            continue;
        }
        let name = spec.name.clone();
        // One entry per circusd: a discovered entry gives way to the configured name, a
        // registered one keeps its place and the new section is refused.
        match crate::identity::admit(&ctx.registry, &spec, Source::Config) {
            Ok(Some(found)) => {
                ctx.registry.remove(&found.name);
                info!(node = %name, was = %found.name, "discovered node renamed by the configuration");
            }
            Ok(None) => {}
            Err(reason) => {
                warn!(node = %name, %reason, "node of the reloaded configuration not added");
                refused.insert(name, reason.into());
                continue;
            }
        }
        match ctx.registry.insert(spec, Source::Config) {
            Ok((node, _)) => learn_streams_in_background(&node, new.node_timeout),
            Err(err) => {
                warn!(node = %name, cause = %err, "cannot add a node from the reloaded configuration");
                continue;
            }
        }
        if current.is_some() {
            changed.push(name);
        } else {
            added.push(name);
        }
    }
    ctx.registry.set_probe_policy(probe_policy(&new));
    ctx.set_settings(new);
    info!(?added, ?changed, ?removed, ?needs_restart, "configuration reloaded");
    let mut report = Map::new();
    report.insert("added".into(), added.into());
    report.insert("changed".into(), changed.into());
    report.insert("removed".into(), removed.into());
    report.insert("needs_restart".into(), needs_restart.into());
    report.insert("refused".into(), Value::Object(refused));
    Ok(report)
}
