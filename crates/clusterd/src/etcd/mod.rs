//! `registry = "etcd"`: several masters share their registered and discovered nodes through
//! etcd, and one of them, elected with etcd's election API, makes the decisions (discovery,
//! forgetting nodes that stay down). docs/ha.md tells the whole story.
//!
//! * [`Shared`]: what the rest of the master asks: may this master decide, is etcd reachable,
//!   who leads (`nodes`, `dstats`);
//! * `mirror`: registry changes made here (`register_node`, `unregister_node`, discovery,
//!   forgetting) written to etcd, the leader's decisions fenced ([`fence`]);
//! * `watch`: the prefix read at start-up and watched, so that a node registered through any
//!   master is known to all of them;
//! * `placement_store`, `placement_watch`: placement's desired state under
//!   `<prefix>/placement/`, written by the leader (fenced) and followed by every master;
//! * `election`: this master's lease (`etcd_lease_ttl`), its campaign and who leads, with the
//!   events `cluster.master.<name>.elected|resigned`.
//!
//! Every call to etcd is bounded: a frozen etcd never blocks a request, a stream or a probe.
//! Losing etcd stops nothing: nodes keep being proxied, streamed and probed from what this master
//! knows; registrations are refused (`registry unavailable (etcd: ...)`) until it is back.

mod election;
pub mod fence;
mod keys;
pub mod migrate;
mod mirror;
pub mod placement_store;
mod placement_watch;
pub mod record;
mod watch;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use etcd_client::{Client, ConnectOptions};
use serde_json::{json, Value};
use tokio::task::JoinHandle;

pub use fence::Fence;
pub use keys::Keys;

use crate::config::{ClusterSettings, RegistryKind};
use crate::Ctx;

/// Deadline of one etcd call (a put, a read, a keepalive): past it etcd counts as unreachable.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// Pause before trying etcd again after a failure.
const RETRY_EVERY: Duration = Duration::from_millis(500);

/// The shared registry's state, as the rest of the master sees it.
pub struct Shared {
    kind: RegistryKind,
    /// This master's name (the election's value, `cluster.master.<name>.*`).
    master: String,
    status: Mutex<Status>,
}

#[derive(Debug, Default)]
struct Status {
    /// Why etcd cannot be used now; `None` while this master's lease is kept alive.
    unavailable: Option<String>,
    /// The leading master's name, as last seen.
    leader: Option<String>,
    /// This master's leadership, while it leads.
    fence: Option<Fence>,
}

impl Shared {
    /// The shared registry `settings` ask for; with `registry = "etcd"` it is unavailable until
    /// the first lease is granted.
    pub fn new(settings: &ClusterSettings) -> Self {
        let kind = settings.registry.kind;
        let unavailable = (kind == RegistryKind::Etcd).then(|| "not connected yet".to_string());
        Shared {
            kind,
            master: settings.registry.master_name(&settings.endpoint),
            status: Mutex::new(Status { unavailable, ..Status::default() }),
        }
    }

    fn status(&self) -> std::sync::MutexGuard<'_, Status> {
        self.status.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// This master's name.
    pub fn master(&self) -> &str {
        &self.master
    }

    /// True when this master makes the cluster's decisions: always with the state file; with
    /// etcd, while it leads and its lease is alive (a leader cut off from etcd stops deciding).
    pub fn may_decide(&self) -> bool {
        match self.kind {
            RegistryKind::File => true,
            RegistryKind::Etcd => {
                let status = self.status();
                status.unavailable.is_none() && status.fence.is_some()
            }
        }
    }

    /// The leading master's name, as last seen.
    pub fn leader(&self) -> Option<String> {
        self.status().leader.clone()
    }

    /// The leadership to fence a decision on, while this master leads.
    pub fn fence(&self) -> Option<Fence> {
        self.status().fence.clone()
    }

    /// Why registrations are refused now: `registry unavailable (etcd: <reason>)`.
    pub fn unavailable(&self) -> Option<String> {
        let reason = self.status().unavailable.clone()?;
        Some(format!("registry unavailable (etcd: {reason})"))
    }

    /// The `registry` field of `nodes` and `dstats`.
    pub fn describe(&self) -> Value {
        if self.kind == RegistryKind::File {
            return json!({"kind": "file"});
        }
        let status = self.status();
        json!({
            "kind": "etcd",
            "master": self.master,
            "leader": status.leader,
            "leading": status.fence.is_some(),
            "stale": status.unavailable.is_some(),
            "stale_reason": status.unavailable,
        })
    }

    fn set_available(&self) {
        self.status().unavailable = None;
    }

    /// etcd stopped answering: this master stops deciding until it has a new lease and wins a
    /// new campaign.
    fn set_unavailable(&self, reason: String) {
        let mut status = self.status();
        status.unavailable = Some(reason);
        status.fence = None;
    }

    fn set_fence(&self, fence: Option<Fence>) {
        self.status().fence = fence;
    }

    /// Records who leads now; returns the previous leader when it changed.
    fn set_leader(&self, leader: Option<String>) -> Option<Option<String>> {
        let mut status = self.status();
        if status.leader == leader {
            return None;
        }
        Some(std::mem::replace(&mut status.leader, leader))
    }
}

/// The running etcd tasks; [`EtcdHandle::stop`] ends them and gives up the leadership at once.
pub struct EtcdHandle {
    tasks: Vec<JoinHandle<()>>,
    lease: election::LeaseSlot,
}

impl EtcdHandle {
    /// Stops the tasks and revokes this master's lease (bounded by [`CALL_TIMEOUT`]), so that
    /// another master leads without waiting for the TTL.
    pub async fn stop(self) {
        for task in &self.tasks {
            task.abort();
        }
        election::revoke(&self.lease).await;
    }
}

/// Starts the etcd tasks when `registry = "etcd"`; `None` with the state file.
pub fn start(ctx: &Arc<Ctx>) -> Option<EtcdHandle> {
    let settings = ctx.settings();
    if settings.registry.kind != RegistryKind::Etcd {
        return None;
    }
    let keys = Keys::new(&settings.registry.etcd_prefix);
    let endpoints = settings.registry.etcd_endpoints.clone();
    let writer = mirror::start(ctx.clone(), keys.clone(), endpoints.clone());
    ctx.registry.set_mirror(writer.sink());
    let store = Arc::new(placement_store::Store::new(ctx, keys.clone(), endpoints.clone()));
    ctx.placement.set_shared(store.clone());
    let lease = election::LeaseSlot::default();
    let tasks = vec![
        writer.task,
        tokio::spawn(placement_watch::run(ctx.clone(), store, endpoints.clone())),
        tokio::spawn(watch::run(ctx.clone(), keys.clone(), endpoints.clone())),
        tokio::spawn(election::run(ctx.clone(), keys, endpoints, settings.registry.etcd_lease_ttl, lease.clone())),
    ];
    Some(EtcdHandle { tasks, lease })
}

/// A client of `endpoints`, without a request timeout (it would also bound a campaign, which
/// waits as long as another master leads): every call is bounded by its caller instead.
///
/// # Errors
/// No endpoint answers.
pub async fn connect(endpoints: &[String]) -> Result<Client, String> {
    let options =
        ConnectOptions::new().with_connect_timeout(CALL_TIMEOUT).with_keep_alive(Duration::from_secs(1), CALL_TIMEOUT);
    match tokio::time::timeout(CALL_TIMEOUT, Client::connect(endpoints, Some(options))).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(err)) => Err(format!("{}: {err}", endpoints.join(", "))),
        Err(_) => Err(format!("{}: no answer within {CALL_TIMEOUT:?}", endpoints.join(", "))),
    }
}

/// `call` within [`CALL_TIMEOUT`], its error as text.
///
/// # Errors
/// etcd's error, or the deadline.
pub async fn bounded<T, E: std::fmt::Display>(
    what: &str,
    call: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(CALL_TIMEOUT, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(format!("{what}: {err}")),
        Err(_) => Err(format!("{what}: no answer within {CALL_TIMEOUT:?}")),
    }
}
