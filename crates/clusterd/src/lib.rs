//! clusterd: a cluster master for the Circus process manager.
//!
//! # Layout
//! * [`config`]: the TOML / 2012-INI configuration, checked into [`config::Config`];
//! * [`registry`]: the known nodes, each with a [`link::Link`] (a task owning a DEALER to the
//!   node, with liveness probes);
//! * `server`: the command endpoint (ROUTER) loop, which decodes requests and spawns one task
//!   per request so that a slow node never delays anything else;
//! * `handler`: what each command does: master-local commands, forwarding to one node, and
//!   fan-out with merged replies;
//! * [`streams`]: the merged stats and event streams (a feed task per node, one publisher);
//! * [`signal`]: the SIGINT/SIGTERM shutdown future given to [`run`].

pub mod config;
pub mod discovery;
mod handler;
pub mod link;
mod proc_info;
pub mod registry;
mod server;
pub mod signal;
pub mod streams;

pub use server::{run, ServeError};

use config::ClusterSettings;
use registry::Registry;

/// What every request handler can see: the settings and the registry.
pub struct Ctx {
    /// The master's settings.
    pub settings: ClusterSettings,
    /// The known nodes.
    pub registry: Registry,
}
