//! The master's own settings: the `[cluster]` (TOML) or `[circus-cluster]` (INI) section.

use std::path::PathBuf;
use std::time::Duration;

use clusterd_protocol::message::DEFAULT_MAX_MESSAGE_SIZE;
use clusterd_protocol::secret::Secret;
use clusterd_protocol::Endpoint;

use super::http::HttpSettings;
use super::registry::RegistrySettings;

/// Default command endpoint (the 2012 `DEFAULT_CLUSTER_DEALER`).
pub const DEFAULT_ENDPOINT: &str = "tcp://127.0.0.1:5558";
/// Default merged stats stream.
pub const DEFAULT_STATS_ENDPOINT: &str = "tcp://127.0.0.1:5559";
/// Default merged event stream.
pub const DEFAULT_PUBSUB_ENDPOINT: &str = "tcp://127.0.0.1:5560";
/// Default deadline of one forwarded request: below circusctl's 5 s, so that the client sees the
/// master's error instead of its own `Timed out.`.
pub const DEFAULT_NODE_TIMEOUT: Duration = Duration::from_secs(4);
/// Default deadline of a `waiting: true` request, which lasts as long as the node's graceful stop.
pub const DEFAULT_WAITING_TIMEOUT: Duration = Duration::from_secs(30);
/// Default interval of liveness probes.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(1);
/// Default number of missed probes after which a node is `down`.
pub const DEFAULT_DOWN_AFTER: u32 = 3;
/// Default time a registered or discovered node stays `down` before it is forgotten.
pub const DEFAULT_FORGET_AFTER: Duration = Duration::from_secs(3600);
/// Default cap on liveness probes per second over all nodes: past `heartbeat × this` nodes,
/// each node is probed less often rather than the master flooding itself.
pub const DEFAULT_MAX_PROBES_PER_SEC: u32 = 2000;
/// Default interval between discovery scans.
pub const DEFAULT_DISCOVER_INTERVAL: Duration = Duration::from_secs(30);
/// Default state file, relative to the configuration file's folder.
pub const DEFAULT_STATE_FILE: &str = "clusterd-state.json";
/// Smallest `max_message_size`: below it, ordinary requests (`add` with a command line) fail.
pub const MIN_MAX_MESSAGE_SIZE: usize = 256;
/// Largest `max_message_size`: libzmq itself drops the connection of a peer sending more than
/// 64 MiB (`WIRE_LIMIT` in the protocol crate), so a larger limit could never be answered.
pub const MAX_MAX_MESSAGE_SIZE: usize = 64 * 1024 * 1024;

/// Default `max_stream_message_size`: Circus stats messages are a few hundred bytes.
pub const DEFAULT_MAX_STREAM_MESSAGE_SIZE: usize = 64 * 1024;
/// Largest `max_stream_message_size`: stream frames above it make libzmq drop the node's
/// connection (`STREAM_FRAME_LIMIT` in the protocol crate).
pub const MAX_MAX_STREAM_MESSAGE_SIZE: usize = clusterd_protocol::connection::stream::STREAM_FRAME_LIMIT;

/// The master's own settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterSettings {
    /// Command endpoint (ROUTER).
    pub endpoint: Endpoint,
    /// Merged stats stream (PUB).
    pub stats_endpoint: Endpoint,
    /// Merged event stream (PUB).
    pub pubsub_endpoint: Endpoint,
    /// Deadline of one forwarded request.
    pub node_timeout: Duration,
    /// Deadline of one forwarded `waiting: true` request.
    pub waiting_timeout: Duration,
    /// Interval of liveness probes.
    pub heartbeat: Duration,
    /// Missed probes after which a node is `down`.
    pub down_after: u32,
    /// How long a registered or discovered node may stay `down` before it is forgotten.
    pub forget_after: Duration,
    /// Cap on liveness probes per second, over all nodes.
    pub max_probes_per_sec: u32,
    /// Discovery targets (`tcp://HOSTS:PORTS`, `udp://GROUP:PORT`), as written.
    pub discover: Vec<String>,
    /// Interval between discovery scans.
    pub discover_interval: Duration,
    /// Where registered and discovered nodes are kept across restarts (`None`: nowhere).
    pub state_file: Option<PathBuf>,
    /// Requests larger than this many bytes are refused with an errno 3 reply.
    pub max_message_size: usize,
    /// Node stream messages larger than this many bytes are dropped and counted (`oversized`).
    pub max_stream_message_size: usize,
    /// Whether the master's endpoints may be reachable from other machines (the Circus
    /// protocol has no authentication; docs/security.md).
    pub allow_remote: bool,
    /// A second command endpoint that only answers commands that change nothing.
    pub readonly_endpoint: Option<Endpoint>,
    /// The merged feed of watcher output (XPUB, docs/logs.md); none: no live feed.
    pub logs_endpoint: Option<Endpoint>,
    /// What `register_node` and `unregister_node` must carry as `secret`, when set.
    pub register_secret: Option<Secret>,
    /// UDP discovery registers whatever answers, with no secret: with `register_secret` set it
    /// must be accepted explicitly (docs/security.md).
    pub discover_trusted: bool,
    /// A file that gets one JSON line per command that changes something (`None`: the audit
    /// events go to stderr with the rest of the log).
    pub audit_log: Option<PathBuf>,
    /// What a merged read answers when some nodes do not: `Partial` (the default) gives the
    /// nodes that answered and names the others, `Strict` an error naming them.
    pub merged_reads: MergedReads,
    /// The dashboard, JSON API and `/metrics` (`http_*` keys, `metrics_per_pid`).
    pub http: HttpSettings,
    /// Where registered and discovered nodes live (`registry`, `etcd_*` keys, docs/ha.md).
    pub registry: RegistrySettings,
    /// Placement (`placement`, `failover_grace`; docs/placement.md).
    pub placement: crate::placement::PlacementSettings,
}

/// `merged_reads = "partial" | "strict"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MergedReads {
    /// `status: "ok"` with every answering node's results and `missing` naming the others.
    #[default]
    Partial,
    /// All or nothing: an error naming each node that did not answer.
    Strict,
}

impl MergedReads {
    pub(super) fn parse(value: &str) -> Result<MergedReads, String> {
        match value.trim() {
            "partial" => Ok(MergedReads::Partial),
            "strict" => Ok(MergedReads::Strict),
            _ => Err(format!("'{value}' is not \"partial\" or \"strict\"")),
        }
    }
}

impl ClusterSettings {
    /// Refuses a node endpoint that is one of the master's own: the master would forward to
    /// itself, or republish its own merged stream forever.
    ///
    /// # Errors
    /// Which of the master's endpoints it is.
    pub fn check_not_own(&self, endpoint: &Endpoint) -> Result<(), String> {
        let own = [
            ("endpoint", &self.endpoint),
            ("stats_endpoint", &self.stats_endpoint),
            ("pubsub_endpoint", &self.pubsub_endpoint),
        ];
        let readonly = self.readonly_endpoint.as_ref().map(|ep| ("readonly_endpoint", ep));
        let logs = self.logs_endpoint.as_ref().map(|ep| ("logs_endpoint", ep));
        match own.into_iter().chain(readonly).chain(logs).find(|(_, mine)| mine.same_place(endpoint)) {
            Some((key, _)) => Err(format!("{endpoint} is the master's own {key}: a node must be a circusd")),
            None => Ok(()),
        }
    }

    /// The state file the master keeps itself: `state_file`, unless `registry = "etcd"` keeps
    /// the nodes instead (then there is none).
    pub fn local_state_file(&self) -> Option<&std::path::Path> {
        self.state_file.as_deref().filter(|_| self.registry.kind == super::RegistryKind::File)
    }
}

impl Default for ClusterSettings {
    fn default() -> Self {
        ClusterSettings {
            endpoint: DEFAULT_ENDPOINT.parse().expect("valid default"),
            stats_endpoint: DEFAULT_STATS_ENDPOINT.parse().expect("valid default"),
            pubsub_endpoint: DEFAULT_PUBSUB_ENDPOINT.parse().expect("valid default"),
            node_timeout: DEFAULT_NODE_TIMEOUT,
            waiting_timeout: DEFAULT_WAITING_TIMEOUT,
            heartbeat: DEFAULT_HEARTBEAT,
            down_after: DEFAULT_DOWN_AFTER,
            forget_after: DEFAULT_FORGET_AFTER,
            max_probes_per_sec: DEFAULT_MAX_PROBES_PER_SEC,
            discover: Vec::new(),
            discover_interval: DEFAULT_DISCOVER_INTERVAL,
            state_file: Some(PathBuf::from(DEFAULT_STATE_FILE)),
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_stream_message_size: DEFAULT_MAX_STREAM_MESSAGE_SIZE,
            allow_remote: false,
            readonly_endpoint: None,
            logs_endpoint: None,
            register_secret: None,
            discover_trusted: false,
            audit_log: None,
            merged_reads: MergedReads::Partial,
            http: HttpSettings::default(),
            registry: RegistrySettings::default(),
            placement: Default::default(),
        }
    }
}
