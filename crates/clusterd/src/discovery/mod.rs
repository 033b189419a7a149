//! Discovery of plain circusd nodes: scans of host and port ranges, and Circus's UDP discovery.
//!
//! The nodes run nothing of ours: a circusd is recognised by its answer to `globaloptions`.
//! [`run`] makes one round at start-up, then one every `discover_interval`, counted from the end
//! of the previous round (rounds never overlap, however long a wide scan takes). A round:
//! 1. asks every `udp://ADDRESS:PORT` target at once and collects answers for [`UDP_WAIT`]
//!    (circus-protocol.md §1.5); each names a command endpoint; only answers from the queried
//!    socket count (`udp::answers_the_query`), and the query binds loopback unless
//!    `allow_remote`;
//! 2. adds every `tcp://HOSTS:PORTS` endpoint ([`Target::endpoints`]), drops duplicates, the
//!    endpoints the registry already has (any source; a node's stats and event endpoints too)
//!    and the master's own;
//! 3. probes what is left with `globaloptions`, [`MAX_CONCURRENT_PROBES`] at a time, each within
//!    [`PROBE_TIMEOUT`] (one DEALER per probe, dropped afterwards); another cluster master (it
//!    also answers `nodelist`) is skipped, since merging its merged streams could loop;
//! 4. registers each circusd found with source `discovered`, under a name made from its host
//!    and port (`127-0-0-1-5555`, [`node_name`]), with the stats and event endpoints it
//!    reported (a wildcard host `0.0.0.0`/`*` replaced by the probed host).
//!
//! Found nodes are logged (info), each round's totals too (debug). A discovered node that goes
//! away stays in the registry (`down`) until `forget_after` removes it; its endpoints are not
//! probed while it is there. The settings are read anew every round, so a reload that changes
//! `discover` or `discover_interval` applies from the next one (but a master started with no
//! targets runs no loop).

mod node;
mod udp;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clusterd_protocol::Endpoint;
use futures::stream::{self, StreamExt};
use tracing::{debug, info, trace, warn};

pub use node::{is_master, node_name, Found, Miss};
// Parsed with the configuration (`discover`), which checks every target at load time.
pub use crate::config::discover_target::{parse_target, Target};

use crate::config::NodeSpec;
use crate::learn::learn_streams_in_background;
use crate::registry::{Node, Source};
use crate::Ctx;

/// Deadline of one `globaloptions` probe (connection included).
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Probes in flight at once.
pub const MAX_CONCURRENT_PROBES: usize = 64;

/// How long answers to a UDP discovery query are collected.
pub const UDP_WAIT: Duration = Duration::from_secs(1);

/// The discovery loop: a round at start-up and then one every `discover_interval` (rounds with
/// no targets do nothing), until the task is dropped. Targets and interval are read afresh each
/// round, so a reload applies from the next one.
pub async fn run(ctx: Arc<Ctx>) {
    loop {
        // Without targets there is nothing to do, but a reload may add some.
        // With several masters, only the leader discovers (the others follow through etcd).
        if !targets(&ctx).is_empty() && ctx.shared.may_decide() {
            discover_once(&ctx).await;
        }
        tokio::time::sleep(interval(&ctx)).await;
    }
}

/// One round over the current targets; returns the nodes it registered.
pub async fn discover_once(ctx: &Ctx) -> Vec<Arc<Node>> {
    let started = Instant::now();
    let candidates = candidates(ctx).await;
    let probed = candidates.len();
    let zmq = ctx.registry.zmq().clone();
    let hits: Vec<Found> = stream::iter(candidates)
        .map(|endpoint| {
            let zmq = zmq.clone();
            async move {
                let result = node::probe(&zmq, endpoint.clone(), PROBE_TIMEOUT).await;
                match &result {
                    Err(Miss::Silent(reason)) => trace!(%endpoint, reason, "no circusd"),
                    Err(Miss::NotCircusd(reason)) => debug!(%endpoint, reason, "not a circusd"),
                    Ok(_) => {}
                }
                result.ok()
            }
        })
        .buffer_unordered(MAX_CONCURRENT_PROBES)
        .filter_map(|hit| async move { hit })
        .collect()
        .await;
    let added: Vec<Arc<Node>> = hits.into_iter().filter_map(|found| register(ctx, found)).collect();
    debug!(probed, found = added.len(), took = ?started.elapsed(), "discovery round");
    added
}

/// The endpoints to probe this round: UDP answers and scan endpoints, deduplicated, minus the
/// known ones and the master's own.
async fn candidates(ctx: &Ctx) -> Vec<Endpoint> {
    let mut endpoints = Vec::new();
    let mut udp_targets = Vec::new();
    for text in targets(ctx) {
        match parse_target(&text) {
            Ok(scan @ Target::Scan { .. }) => endpoints.extend(scan.endpoints()),
            Ok(Target::Udp { address, port }) => udp_targets.push((text, address, port)),
            Err(reason) => warn!(target = %text, reason, "discovery target skipped"),
        }
    }
    let allow_remote = ctx.settings().allow_remote;
    let queries = udp_targets.iter().map(|(_, address, port)| udp::query(address, *port, UDP_WAIT, allow_remote));
    for ((text, _, _), answer) in udp_targets.iter().zip(futures::future::join_all(queries).await) {
        match answer {
            Ok(found) => {
                debug!(target = %text, answers = found.len(), "udp discovery");
                endpoints.extend(found);
            }
            Err(reason) => warn!(target = %text, reason, "udp discovery failed"),
        }
    }
    let known = Known::new(ctx);
    let mut seen = HashSet::new();
    endpoints.retain(|endpoint| {
        seen.insert(endpoint.clone()) && !known.has(endpoint) && check_not_own(ctx, endpoint).is_ok()
    });
    endpoints
}

/// Every endpoint of the registered nodes (command, stats, events), by port.
struct Known(HashMap<Option<u16>, Vec<Endpoint>>);

impl Known {
    fn new(ctx: &Ctx) -> Self {
        let mut by_port: HashMap<Option<u16>, Vec<Endpoint>> = HashMap::new();
        for node in ctx.registry.all() {
            let (pubsub, stats) = (node.pubsub_endpoint.borrow().clone(), node.stats_endpoint.borrow().clone());
            for endpoint in [Some(node.endpoint.clone()), stats, pubsub].into_iter().flatten() {
                by_port.entry(endpoint.port()).or_default().push(endpoint);
            }
        }
        Known(by_port)
    }

    /// True when `endpoint` is the same socket as a known one (`localhost` and `127.0.0.1` on
    /// one port count as one).
    fn has(&self, endpoint: &Endpoint) -> bool {
        self.0.get(&endpoint.port()).is_some_and(|mine| mine.iter().any(|e| e.same_place(endpoint)))
    }
}

/// Registers a node found by a probe, unless the registry got it meanwhile, its name is taken,
/// or it reported one of the master's own endpoints as its streams.
fn register(ctx: &Ctx, found: Found) -> Option<Arc<Node>> {
    let endpoint = found.endpoint;
    if Known::new(ctx).has(&endpoint) {
        return None;
    }
    let name = node_name(&endpoint)?;
    if ctx.registry.contains(&name) {
        debug!(node = %name, %endpoint, "discovered node not registered: the name is taken");
        return None;
    }
    for stream in [&found.stats_endpoint, &found.pubsub_endpoint].into_iter().flatten() {
        if let Err(reason) = check_not_own(ctx, stream) {
            warn!(node = %name, %endpoint, reason, "discovered node not registered");
            return None;
        }
    }
    let spec = NodeSpec {
        name: name.clone(),
        endpoint: endpoint.clone(),
        pubsub_endpoint: found.pubsub_endpoint.clone(),
        stats_endpoint: found.stats_endpoint.clone(),
        tags: Vec::new(),
    };
    match ctx.registry.insert(spec, Source::Discovered) {
        Ok((node, _)) => {
            let show = |e: &Option<Endpoint>| e.as_ref().map_or_else(|| "-".to_string(), Endpoint::to_string);
            info!(
                node = %name,
                %endpoint,
                stats_endpoint = %show(&found.stats_endpoint),
                pubsub_endpoint = %show(&found.pubsub_endpoint),
                "discovered a node"
            );
            if found.pubsub_endpoint.is_none() {
                learn_streams_in_background(&node, node_timeout(ctx));
            }
            Some(node)
        }
        Err(err) => {
            warn!(node = %name, %endpoint, cause = %err, "discovered node not registered");
            None
        }
    }
}

// The settings, only through these (they are read anew each round, so a reload applies at the
// next one).

fn targets(ctx: &Ctx) -> Vec<String> {
    ctx.settings().discover.clone()
}

fn interval(ctx: &Ctx) -> Duration {
    ctx.settings().discover_interval
}

fn node_timeout(ctx: &Ctx) -> Duration {
    ctx.settings().node_timeout
}

fn check_not_own(ctx: &Ctx, endpoint: &Endpoint) -> Result<(), String> {
    ctx.settings().check_not_own(endpoint)
}
