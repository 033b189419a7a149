//! A worker's circusd ini, read as `clusterctl join` needs it: the `[circus]` keys `endpoint`,
//! `pubsub_endpoint`, `stats_endpoint` (circusd's defaults when absent), `node` and `master`
//! (required, stock circusd ignores both), the optional `tags = a, b`, `logs_endpoint` (where the
//! agent serves the watchers' output), and `secret`, the master's `register_secret` when it has one.
//!
//! circusd 0.19 reads the file with its own `StrictConfigParser`, and so does this module, so
//! that the endpoints it registers are the ones circusd binds: keys are case-sensitive; the first
//! occurrence of a key wins; a section may appear several times (merged); lines starting with
//! `rem` are comments; `; comment` after white space ends a value (its first `;` only); `""` is
//! the empty string; no quotes, no escapes. `$(circus.env.NAME)` is replaced with the environment
//! variable `NAME` (`[env]` section first; an unknown one is an error here, where circus would
//! keep it as written).

use std::path::Path;
use std::str::FromStr;

use clusterd_protocol::names::validate_node_name;
use clusterd_protocol::secret::Secret;
use clusterd_protocol::Endpoint;
use ini::{Ini, ParseOption, Properties};
use serde_json::{json, Map, Value};

/// circusd's default command endpoint.
pub const DEFAULT_ENDPOINT: &str = "tcp://127.0.0.1:5555";
/// circusd's default event endpoint.
pub const DEFAULT_PUBSUB_ENDPOINT: &str = "tcp://127.0.0.1:5556";
/// circusd's default stats endpoint (bound by circusd-stats when `statsd = True`).
pub const DEFAULT_STATS_ENDPOINT: &str = "tcp://127.0.0.1:5557";

/// What a worker registers, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Worker {
    /// The node name (`node`).
    pub name: String,
    /// circusd's command endpoint (`endpoint`).
    pub endpoint: String,
    /// circusd's event endpoint (`pubsub_endpoint`).
    pub pubsub_endpoint: String,
    /// circusd-stats' endpoint (`stats_endpoint`).
    pub stats_endpoint: String,
    /// The master's command endpoint (`master`), as written: with several masters sharing
    /// etcd, a comma-separated list ([`Worker::masters`]).
    pub master: String,
    /// `tags = a, b`, when present and not empty.
    pub tags: Option<Vec<String>>,
    /// `secret`: sent with `register_node` and `unregister_node` (the master's `register_secret`).
    pub secret: Option<Secret>,
    /// `logs_endpoint`: where the agent serves the watchers' output (docs/logs.md); none, none.
    pub logs_endpoint: Option<String>,
}

/// Why the ini cannot be used; every variant names the file (exit status 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkerIniError {
    /// The file cannot be read.
    #[error("{path}: cannot read the worker's circusd ini: {reason}")]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        reason: String,
    },
    /// The file is not INI.
    #[error("{path}: invalid INI: {reason}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message.
        reason: String,
    },
    /// A required key is missing or empty.
    #[error("{path}: [circus] has no '{key}' key ({why})")]
    Missing {
        /// The file.
        path: String,
        /// `node` or `master`.
        key: &'static str,
        /// What the key is for.
        why: &'static str,
    },
    /// A key holds a value that cannot work.
    #[error("{path}: [circus] {key}: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// The key.
        key: &'static str,
        /// What is wrong with its value.
        reason: String,
    },
}

impl Worker {
    /// Reads the ini at `path`; `env` looks up environment variables for `$(circus.env.NAME)`,
    /// ignoring case as circus does.
    ///
    /// # Errors
    /// A [`WorkerIniError`] naming the file and, for a bad setting, the key.
    pub fn read(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Worker, WorkerIniError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|err| WorkerIniError::Read { path: shown.clone(), reason: err.to_string() })?;
        Worker::parse(&text, &shown, env)
    }

    /// Reads ini `text`; `path` is only used in error messages.
    ///
    /// # Errors
    /// As [`Worker::read`].
    pub fn parse(text: &str, path: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Worker, WorkerIniError> {
        let options = ParseOption {
            enabled_quote: false,
            enabled_escape: false,
            enabled_indented_mutiline_value: true,
            enabled_preserve_key_leading_whitespace: false,
        };
        let text: String = text.lines().filter(|line| !is_rem(line)).flat_map(|line| [line, "\n"]).collect();
        let ini = Ini::load_from_str_opt(&text, options)
            .map_err(|err| WorkerIniError::Parse { path: path.into(), reason: err.to_string() })?;
        let lookup = |name: &str| {
            let env_section = ini.section_all(Some("env")).flat_map(|s| s.iter());
            let mut found = env_section.filter(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, v)| circus_value(v));
            found.next().or_else(|| env(name))
        };
        let invalid =
            |key: &'static str| move |reason: String| WorkerIniError::Invalid { path: path.into(), key, reason };
        let value = |key: &'static str| -> Result<Option<String>, WorkerIniError> {
            let Some(raw) = ["circus", "DEFAULT"].into_iter().find_map(|section| get(&ini, section, key)) else {
                return Ok(None);
            };
            let text = substitute(&raw, &lookup).map_err(|why| invalid(key)(format!("'{raw}': {why}")))?;
            Ok(Some(text.trim().to_string()))
        };
        let required = |key: &'static str, why: &'static str| {
            value(key)?.filter(|v| !v.is_empty()).ok_or(WorkerIniError::Missing { path: path.into(), key, why })
        };
        let endpoint = |key: &'static str, default: &str| -> Result<String, WorkerIniError> {
            let text = value(key)?.unwrap_or_else(|| default.to_string());
            Endpoint::from_str(&text).map_err(invalid(key))?;
            Ok(text)
        };
        let name = required("node", "the name this worker joins the cluster as")?;
        validate_node_name(&name).map_err(invalid("node"))?;
        let master = required("master", "the master's command endpoint, e.g. tcp://127.0.0.1:5558")?;
        for one in split_masters(&master) {
            Endpoint::from_str(one).map_err(invalid("master"))?;
        }
        let tags: Option<Vec<String>> = value("tags")?
            .map(|tags| tags.split([',', '\n']).map(str::trim).filter(|t| !t.is_empty()).map(String::from).collect());
        Ok(Worker {
            name,
            endpoint: endpoint("endpoint", DEFAULT_ENDPOINT)?,
            pubsub_endpoint: endpoint("pubsub_endpoint", DEFAULT_PUBSUB_ENDPOINT)?,
            stats_endpoint: endpoint("stats_endpoint", DEFAULT_STATS_ENDPOINT)?,
            master,
            tags: tags.filter(|t| !t.is_empty()),
            secret: value("secret")?.and_then(|secret| Secret::new(&secret)),
            logs_endpoint: match value("logs_endpoint")?.filter(|v| !v.is_empty()) {
                Some(text) => Some(Endpoint::from_str(&text).map(|_| text).map_err(invalid("logs_endpoint"))?),
                None => None,
            },
        })
    }

    /// The masters' command endpoints: `master = tcp://a:5558, tcp://b:5558` names several
    /// masters sharing one registry (`registry = "etcd"`); the worker registers through
    /// whichever answers.
    pub fn masters(&self) -> Vec<String> {
        split_masters(&self.master).map(str::to_string).collect()
    }

    /// The `register_node` properties: `name`, `endpoint`, `stats_endpoint`, `pubsub_endpoint`,
    /// and `tags`, `logs_endpoint` and `secret` when the ini has them.
    pub fn register_properties(&self) -> Map<String, Value> {
        let mut props = Map::new();
        props.insert("name".into(), json!(self.name));
        props.insert("endpoint".into(), json!(self.endpoint));
        props.insert("stats_endpoint".into(), json!(self.stats_endpoint));
        props.insert("pubsub_endpoint".into(), json!(self.pubsub_endpoint));
        if let Some(tags) = &self.tags {
            props.insert("tags".into(), json!(tags));
        }
        if let Some(logs) = &self.logs_endpoint {
            props.insert("logs_endpoint".into(), json!(logs));
        }
        self.add_secret(&mut props);
        props
    }

    /// The `unregister_node` properties: `name`, and `secret` when the ini has one.
    pub fn unregister_properties(&self) -> Map<String, Value> {
        let mut props = Map::new();
        props.insert("name".into(), json!(self.name));
        self.add_secret(&mut props);
        props
    }

    fn add_secret(&self, props: &mut Map<String, Value>) {
        if let Some(secret) = &self.secret {
            props.insert("secret".into(), json!(secret.expose()));
        }
    }
}

/// The value of `key` in `section` as circusd sees it: the first occurrence over every
/// `[section]` of the file, keys compared case-sensitively.
fn get(ini: &Ini, section: &str, key: &str) -> Option<String> {
    ini.section_all(Some(section)).flat_map(Properties::iter).find(|(k, _)| *k == key).map(|(_, v)| circus_value(v))
}

/// A raw value cleaned as circus's parser does: cut at its first `;` when white space precedes
/// it, trimmed, and `""` read as empty.
fn circus_value(raw: &str) -> String {
    let value = match raw.find(';') {
        Some(at) if raw[..at].ends_with(char::is_whitespace) => &raw[..at],
        _ => raw,
    };
    match value.trim() {
        "\"\"" => String::new(),
        other => other.to_string(),
    }
}

/// A `rem` comment line of circus's parser (`rem` or `REM` at the very start, as a word).
fn is_rem(line: &str) -> bool {
    line.starts_with(['r', 'R']) && line.split_whitespace().next().is_some_and(|word| word.eq_ignore_ascii_case("rem"))
}

/// circus's `replace_gnu_args` for the environment: `$(circus.env.NAME)` and
/// `((circus.env.NAME))` are replaced with what `lookup` gives for `NAME` (circus compares names
/// case-insensitively: so must `lookup`).
///
/// # Errors
/// A variable `lookup` does not know, named. circus would keep the reference as written, which
/// can only make an endpoint that nothing listens on.
fn substitute(value: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    const PREFIX: &str = "circus.env.";
    let mut out = String::new();
    let mut rest = value;
    while let Some(at) = rest.find(['$', '(']) {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let (open, close) = if tail.starts_with("$(") { ("$(", ")") } else { ("((", "))") };
        let reference = tail
            .strip_prefix(open)
            .filter(|t| t.len() >= PREFIX.len() && t.is_char_boundary(PREFIX.len()))
            .filter(|t| t[..PREFIX.len()].eq_ignore_ascii_case(PREFIX))
            .and_then(|t| {
                let body = &t[PREFIX.len()..];
                let end = body.find(|c: char| !(c.is_alphanumeric() || "_.-".contains(c))).unwrap_or(body.len());
                let after = body[end..].strip_prefix(close)?;
                (end > 0).then_some((&body[..end], after))
            });
        match reference {
            Some((name, after)) => {
                let value = lookup(name).ok_or_else(|| format!("environment variable '{name}' is not set"))?;
                out.push_str(&value);
                rest = after;
            }
            None => {
                let skip = tail.chars().next().map_or(1, char::len_utf8);
                out.push_str(&tail[..skip]);
                rest = &tail[skip..];
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
#[path = "worker_tests.rs"]
mod tests;

/// The endpoints of `master = a, b` (comma- or line-separated, blanks ignored).
fn split_masters(text: &str) -> impl Iterator<Item = &str> {
    text.split([',', '\n']).map(str::trim).filter(|one| !one.is_empty())
}
