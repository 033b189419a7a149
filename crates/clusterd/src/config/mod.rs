//! The master's configuration: TOML (`cluster.toml`) or the 2012 circusd-cluster INI
//! (`cluster.ini`), chosen by the file's extension, checked into one [`Config`].
//!
//! Every problem is reported as a [`ConfigError`] naming the file, the key and why, so that
//! `clusterd` can print one line and exit with status 2.

mod ini_file;
mod toml_file;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clusterd_protocol::names::validate_node_name;
use clusterd_protocol::Endpoint;

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

/// The whole checked configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Where the configuration came from (for messages).
    pub path: PathBuf,
    /// The master's own settings (`[cluster]` / `[circus-cluster]`).
    pub cluster: ClusterSettings,
    /// Nodes declared in the file, in file order.
    pub nodes: Vec<NodeSpec>,
}

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
        match own.iter().find(|(_, mine)| mine.same_place(endpoint)) {
            Some((key, _)) => Err(format!("{endpoint} is the master's own {key}: a node must be a circusd")),
            None => Ok(()),
        }
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
        }
    }
}

/// One node: a circusd and its three endpoints.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeSpec {
    /// Node name (letters, digits, `-`, `_`).
    pub name: String,
    /// circusd's command endpoint.
    pub endpoint: Endpoint,
    /// circusd's event stream, when known.
    pub pubsub_endpoint: Option<Endpoint>,
    /// circusd-stats' stream, when known.
    pub stats_endpoint: Option<Endpoint>,
}

/// A configuration problem: file, key and reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// The key (`cluster.node_timeout`, `node.first.endpoint`), or empty for the whole file.
    pub key: String,
    /// Why it is refused.
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.file.display(), self.reason)
        } else {
            write!(f, "{}: {}: {}", self.file.display(), self.key, self.reason)
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads and checks the file at `path`; `.ini` files are read as the 2012 INI form,
    /// everything else as TOML.
    ///
    /// # Errors
    /// A missing or unreadable file, bad syntax, an unknown key or a bad value.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|err| ConfigError {
            file: path.to_path_buf(),
            key: String::new(),
            reason: format!("cannot read: {err}"),
        })?;
        Config::parse(path, &text)
    }

    /// Parses `text` as the content of `path` (whose extension picks the format).
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let mut builder = Builder::new(path);
        let is_ini = path.extension().is_some_and(|ext| ext.eq_ignore_ascii_case("ini"));
        if is_ini {
            ini_file::read(text, &mut builder)?;
        } else {
            toml_file::read(text, &mut builder)?;
        }
        let section = |name: &str| if is_ini { format!("node:{name}") } else { format!("node.{name}") };
        for node in &builder.nodes {
            let endpoints = [
                ("endpoint", Some(&node.endpoint)),
                ("pubsub_endpoint", node.pubsub_endpoint.as_ref()),
                ("stats_endpoint", node.stats_endpoint.as_ref()),
            ];
            for (key, endpoint) in endpoints {
                if let Some(Err(reason)) = endpoint.map(|ep| builder.cluster.check_not_own(ep)) {
                    return Err(builder.error(&format!("{}.{key}", section(&node.name)), reason));
                }
            }
        }
        Ok(Config { path: path.to_path_buf(), cluster: builder.cluster, nodes: builder.nodes })
    }
}

/// Collects settings while a format reader walks its file, checking values as they come.
pub(crate) struct Builder {
    file: PathBuf,
    cluster: ClusterSettings,
    nodes: Vec<NodeSpec>,
}

impl Builder {
    fn new(path: &Path) -> Self {
        Builder { file: path.to_path_buf(), cluster: ClusterSettings::default(), nodes: Vec::new() }
    }

    /// An error about `key`.
    pub(crate) fn error(&self, key: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError { file: self.file.clone(), key: key.to_string(), reason: reason.into() }
    }

    /// Sets one `[cluster]` key from its text value; `key` is the name shown in errors.
    pub(crate) fn cluster_key(&mut self, name: &str, key: &str, value: &str) -> Result<(), ConfigError> {
        let fail = |reason: String| ConfigError { file: self.file.clone(), key: key.to_string(), reason };
        let mut settings = self.cluster.clone();
        match name {
            "endpoint" => settings.endpoint = parse_endpoint(value).map_err(fail)?,
            "stats_endpoint" => settings.stats_endpoint = parse_endpoint(value).map_err(fail)?,
            "pubsub_endpoint" => settings.pubsub_endpoint = parse_endpoint(value).map_err(fail)?,
            "node_timeout" => settings.node_timeout = parse_duration(value).map_err(fail)?,
            "waiting_timeout" => settings.waiting_timeout = parse_duration(value).map_err(fail)?,
            "heartbeat" => settings.heartbeat = parse_duration(value).map_err(fail)?,
            "down_after" => {
                settings.down_after = match value.trim().parse::<u32>() {
                    Ok(n) if n >= 1 => n,
                    _ => return Err(fail(format!("'{value}' is not a whole number of at least 1"))),
                }
            }
            _ => return Err(fail(format!("unknown key (known: {})", CLUSTER_KEYS.join(", ")))),
        }
        self.cluster = settings;
        Ok(())
    }

    /// Adds one node from its section's `(key, value)` pairs; `prefix` names the section in errors.
    pub(crate) fn node<'a>(
        &mut self,
        name: &str,
        prefix: &str,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
        ignored: &[&str],
    ) -> Result<(), ConfigError> {
        validate_node_name(name).map_err(|e| self.error(prefix, e))?;
        if self.nodes.iter().any(|n| n.name == name) {
            return Err(self.error(prefix, format!("node '{name}' is declared twice")));
        }
        let (mut endpoint, mut pubsub, mut stats) = (None, None, None);
        for (k, v) in pairs {
            let key = format!("{prefix}.{k}");
            let slot = match k {
                "endpoint" => &mut endpoint,
                "pubsub_endpoint" => &mut pubsub,
                "stats_endpoint" => &mut stats,
                _ if ignored.contains(&k) => continue,
                _ => return Err(self.error(&key, format!("unknown key (known: {})", NODE_KEYS.join(", ")))),
            };
            *slot = Some(parse_endpoint(v).map_err(|e| self.error(&key, e))?);
        }
        let endpoint = endpoint
            .ok_or_else(|| self.error(&format!("{prefix}.endpoint"), "missing: a node needs its circusd endpoint"))?;
        self.nodes.push(NodeSpec { name: name.to_string(), endpoint, pubsub_endpoint: pubsub, stats_endpoint: stats });
        Ok(())
    }
}

const CLUSTER_KEYS: &[&str] =
    &["endpoint", "stats_endpoint", "pubsub_endpoint", "node_timeout", "waiting_timeout", "heartbeat", "down_after"];
const NODE_KEYS: &[&str] = &["endpoint", "pubsub_endpoint", "stats_endpoint"];

fn parse_endpoint(value: &str) -> Result<Endpoint, String> {
    value.parse::<Endpoint>().map_err(|e| format!("bad endpoint {e}"))
}

fn parse_duration(value: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(value.trim())
        .map_err(|e| format!("bad duration '{value}': {e} (write e.g. \"4s\" or \"500ms\")"))?;
    if duration.is_zero() {
        return Err(format!("bad duration '{value}': must be more than zero"));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests;
