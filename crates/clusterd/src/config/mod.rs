//! The master's configuration: TOML (`cluster.toml`) or the 2012 circusd-cluster INI
//! (`cluster.ini`), chosen by the file's extension, checked into one [`Config`].
//!
//! Every problem is reported as a [`ConfigError`] naming the file, the key and why, so that
//! `clusterd` can print one line and exit with status 2.

mod access;
mod cluster_keys;
pub mod discover_target;
mod http;
mod ini_file;
mod registry;
mod settings;
mod toml_file;

pub use access::SECURITY_DOC;
pub use http::{HttpSettings, HTTP_KEYS};
pub use registry::{RegistryKind, RegistrySettings, REGISTRY_KEYS};
pub use settings::*;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use clusterd_protocol::names::validate_node_name;
use clusterd_protocol::Endpoint;

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
    /// Tags, for node-set expressions (`@eu`).
    pub tags: Vec<String>,
}

/// Checks and normalizes tags given as a list, or as one comma-separated text.
///
/// # Errors
/// A tag that is not `[A-Za-z0-9_-]+`.
pub fn parse_tags<S: AsRef<str>>(items: &[S]) -> Result<Vec<String>, String> {
    let mut tags = Vec::new();
    for item in items {
        for tag in item.as_ref().split(',').map(str::trim).filter(|t| !t.is_empty()) {
            if !tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                return Err(format!("tag '{tag}': use letters, digits, '-' and '_' only"));
            }
            if !tags.iter().any(|t| t == tag) {
                tags.push(tag.to_string());
            }
        }
    }
    Ok(tags)
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
        let master_section = if is_ini { "circus-cluster" } else { "cluster" };
        if let Err((key, reason)) = builder.cluster.check_access().and_then(|()| builder.cluster.check_discovery()) {
            return Err(builder.error(&format!("{master_section}.{key}"), reason));
        }
        if let Err((key, reason)) = builder.cluster.http.check(builder.cluster.allow_remote) {
            return Err(builder.error(&format!("{master_section}.{key}"), reason));
        }
        let mut cluster = builder.cluster;
        // A relative state file or audit log lives next to the configuration file.
        let beside = |file: PathBuf| path.parent().map_or(file.clone(), |dir| dir.join(&file));
        cluster.state_file = cluster.state_file.take().map(beside);
        cluster.audit_log = cluster.audit_log.take().map(beside);
        Ok(Config { path: path.to_path_buf(), cluster, nodes: builder.nodes })
    }
}

/// Collects settings while a format reader walks its file, checking values as they come.
pub(crate) struct Builder {
    file: PathBuf,
    cluster: ClusterSettings,
    nodes: Vec<NodeSpec>,
    /// Indexes into `nodes` by case-folded name and by normalized endpoint: a scan per node
    /// made a configuration of 5,000 nodes take over 30 s to read.
    by_name: HashMap<String, usize>,
    by_endpoint: HashMap<String, usize>,
}

impl Builder {
    fn new(path: &Path) -> Self {
        Builder {
            file: path.to_path_buf(),
            cluster: ClusterSettings::default(),
            nodes: Vec::new(),
            by_name: HashMap::new(),
            by_endpoint: HashMap::new(),
        }
    }

    /// An error about `key`.
    pub(crate) fn error(&self, key: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError { file: self.file.clone(), key: key.to_string(), reason: reason.into() }
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
        let folded = name.to_ascii_lowercase();
        // At most one node per case-folded name: a second is refused below.
        if let Some(other) = self.by_name.get(&folded).map(|&i| &self.nodes[i]) {
            if other.name == name {
                return Err(self.error(prefix, format!("node '{name}' is declared twice")));
            }
            let reason = format!("node '{name}' differs only in case from node '{}': refused", other.name);
            return Err(self.error(prefix, reason));
        }
        let (mut endpoint, mut pubsub, mut stats, mut tags) = (None, None, None, Vec::new());
        for (k, v) in pairs {
            let key = format!("{prefix}.{k}");
            if k == "tags" {
                tags = parse_tags(&[v]).map_err(|e| self.error(&key, e))?;
                continue;
            }
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
        // One entry per circusd: the same daemon twice would be counted and commanded twice.
        let normalized = endpoint.normalized();
        if let Some(other) = self.by_endpoint.get(&normalized).map(|&i| &self.nodes[i]) {
            let reason =
                format!("{endpoint} is already node '{}' ({}): one entry per circusd", other.name, other.endpoint);
            return Err(self.error(&format!("{prefix}.endpoint"), reason));
        }
        self.by_name.insert(folded, self.nodes.len());
        self.by_endpoint.insert(normalized, self.nodes.len());
        self.nodes.push(NodeSpec {
            name: name.to_string(),
            endpoint,
            pubsub_endpoint: pubsub,
            stats_endpoint: stats,
            tags,
        });
        Ok(())
    }
}

const NODE_KEYS: &[&str] = &["endpoint", "pubsub_endpoint", "stats_endpoint", "tags"];

pub(crate) fn parse_endpoint(value: &str) -> Result<Endpoint, String> {
    value.parse::<Endpoint>().map_err(|e| format!("bad endpoint {e}"))
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
