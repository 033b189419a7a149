//! clusterd: a cluster master for the Circus process manager.
//!
//! # Layout
//! * [`config`]: the TOML / 2012-INI configuration, checked into [`config::Config`];
//! * [`registry`]: the known nodes, each with a [`link::Link`] (a task owning the connection to the
//!   node, with liveness probes);
//! * `master`: the wiring: starts every part and task of the master in order ([`run`]), and
//!   stops them through one `shutdown` phase;
//! * `server`: the command endpoint (ROUTER) loop, which decodes requests and spawns one task
//!   per request so that a slow node never delays anything else, and the read-only endpoint's
//!   loop beside it;
//! * `handler`: what each command does: master-local commands, forwarding to one node, and
//!   fan-out with merged replies;
//! * [`streams`]: the merged stats and event streams (a feed task per node, one publisher), and
//!   the in-process tap on them;
//! * [`view`]: the cluster state kept from the tap and the registry, read by `http`;
//! * `http`: the dashboard, JSON API and `/metrics` (`http_endpoint`, docs/http.md);
//! * `access`: the policy around the dispatcher: what each endpoint allows
//!   (`readonly_endpoint`), `register_secret`, and the audit trail of changing commands;
//! * [`etcd`]: `registry = "etcd"`, the registry shared by several masters, and the leader
//!   election (docs/ha.md);
//! * [`placement`]: `add` without a node, replicas, failover, drain (docs/placement.md);
//! * [`logging`]: the tracing set-up, with the audit events in their own file if asked;
//! * [`signal`]: the SIGINT/SIGTERM shutdown future given to [`run`].

// These docs are for contributors (`cargo doc --document-private-items`, checked by `make lint`):
// they point at private items on purpose.
#![allow(rustdoc::private_intra_doc_links)]

mod access;
pub mod config;
pub mod discovery;
pub mod etcd;
mod handler;
mod http;
mod identity;
pub mod learn;
pub mod link;
pub mod logging;
pub mod logs;
mod master;
mod node_life;
pub mod placement;
mod proc_info;
pub mod registry;
mod server;
mod shutdown;
pub mod signal;
pub mod state;
pub mod streams;
pub mod view;

pub use master::{run, ServeError};
pub use server::{RequestCounters, MAX_IN_FLIGHT, MAX_IN_FLIGHT_PER_CLIENT, SHUTDOWN_GRACE};

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use config::ClusterSettings;
use registry::Registry;

/// What every request handler can see: the settings, the configuration file they came from,
/// and the registry.
pub struct Ctx {
    /// The master's settings; replaced as a whole on reload.
    settings: RwLock<Arc<ClusterSettings>>,
    /// The configuration file, read again on reload.
    pub config_path: PathBuf,
    /// The known nodes.
    pub registry: Registry,
    /// What the command endpoint refused or could not answer (`dstats`).
    pub requests: RequestCounters,
    /// Saved nodes that did not fit the file-descriptor budget at start-up: not running, but
    /// kept in the state file so that a restart with a higher limit starts them.
    pub unstarted: Mutex<Vec<(config::NodeSpec, registry::Source)>>,
    /// Requests handled, by command and outcome (`/metrics`).
    pub commands: access::tally::CommandTally,
    /// The shared registry (`registry = "etcd"`): who leads, whether this master may decide.
    pub shared: etcd::Shared,
    /// Where each node's log agent is (`logs`, `[cluster] logs_endpoint`).
    pub logs: logs::Agents,
    /// Placed watchers, drained nodes (docs/placement.md).
    pub placement: placement::Placements,
}

impl Ctx {
    /// A context over `registry` with `settings` read from `config_path`.
    pub fn new(settings: ClusterSettings, config_path: PathBuf, registry: Registry) -> Self {
        Ctx {
            shared: etcd::Shared::new(&settings),
            settings: RwLock::new(Arc::new(settings)),
            config_path,
            registry,
            requests: RequestCounters::default(),
            unstarted: Mutex::default(),
            commands: Default::default(),
            logs: Default::default(),
            placement: Default::default(),
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> Arc<ClusterSettings> {
        self.settings.read().expect("settings lock").clone()
    }

    /// Puts new settings in force (reload).
    pub fn set_settings(&self, settings: ClusterSettings) {
        *self.settings.write().expect("settings lock") = Arc::new(settings);
    }
}
