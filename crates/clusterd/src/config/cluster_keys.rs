//! Reading the `[cluster]` keys one at a time into [`ClusterSettings`](super::ClusterSettings), each checked as it
//! comes (the settings themselves and their defaults are in `settings.rs`).

use std::path::PathBuf;
use std::time::Duration;

use clusterd_protocol::secret::Secret;

use super::http::HTTP_KEYS;
use super::registry::REGISTRY_KEYS;
use super::settings::{MergedReads, MAX_MAX_MESSAGE_SIZE, MAX_MAX_STREAM_MESSAGE_SIZE, MIN_MAX_MESSAGE_SIZE};
use super::{parse_endpoint, Builder, ConfigError};

/// Every `[cluster]` key, for "unknown key" messages.
const CLUSTER_KEYS: &[&str] = &[
    "endpoint",
    "stats_endpoint",
    "pubsub_endpoint",
    "node_timeout",
    "waiting_timeout",
    "heartbeat",
    "down_after",
    "forget_after",
    "max_probes_per_sec",
    "discover",
    "discover_interval",
    "state_file",
    "max_message_size",
    "max_stream_message_size",
    "allow_remote",
    "readonly_endpoint",
    "logs_endpoint",
    "register_secret",
    "discover_trusted",
    "audit_log",
    "merged_reads",
    "http_endpoint",
    "http_token",
    "http_readonly",
    "metrics_per_pid",
    "placement",
    "failover_grace",
];

impl Builder {
    /// Sets one `[cluster]` key; `values` holds one text value, or several for list keys
    /// (`discover`); `key` is the name shown in errors.
    pub(crate) fn cluster_key(&mut self, name: &str, key: &str, values: &[String]) -> Result<(), ConfigError> {
        let fail = |reason: String| ConfigError { file: self.file.clone(), key: key.to_string(), reason };
        let one = || -> Result<&str, ConfigError> {
            match values {
                [value] => Ok(value),
                _ => Err(fail("expected one value, not a list".into())),
            }
        };
        let mut settings = self.cluster.clone();
        match name {
            "endpoint" => settings.endpoint = parse_endpoint(one()?).map_err(fail)?,
            "stats_endpoint" => settings.stats_endpoint = parse_endpoint(one()?).map_err(fail)?,
            "pubsub_endpoint" => settings.pubsub_endpoint = parse_endpoint(one()?).map_err(fail)?,
            "node_timeout" => settings.node_timeout = parse_duration(one()?).map_err(fail)?,
            "waiting_timeout" => settings.waiting_timeout = parse_duration(one()?).map_err(fail)?,
            "heartbeat" => settings.heartbeat = parse_duration(one()?).map_err(fail)?,
            "forget_after" => settings.forget_after = parse_duration(one()?).map_err(fail)?,
            "discover_interval" => settings.discover_interval = parse_duration(one()?).map_err(fail)?,
            "down_after" => settings.down_after = parse_count(one()?).map_err(fail)?,
            "max_probes_per_sec" => settings.max_probes_per_sec = parse_count(one()?).map_err(fail)?,
            "discover" => {
                for target in values {
                    super::discover_target::parse_target(target)
                        .map_err(|e| fail(format!("bad target '{target}': {e}")))?;
                }
                settings.discover = values.to_vec();
            }
            "state_file" => {
                let path = one()?.trim();
                settings.state_file = if path.is_empty() { None } else { Some(PathBuf::from(path)) };
            }
            "max_message_size" => {
                settings.max_message_size = parse_size(one()?, MAX_MAX_MESSAGE_SIZE).map_err(fail)?;
            }
            "max_stream_message_size" => {
                settings.max_stream_message_size = parse_size(one()?, MAX_MAX_STREAM_MESSAGE_SIZE).map_err(fail)?;
            }
            "allow_remote" => settings.allow_remote = parse_bool(one()?).map_err(fail)?,
            "discover_trusted" => settings.discover_trusted = parse_bool(one()?).map_err(fail)?,
            "readonly_endpoint" => {
                let text = one()?.trim();
                settings.readonly_endpoint =
                    if text.is_empty() { None } else { Some(parse_endpoint(text).map_err(fail)?) };
            }
            "logs_endpoint" => {
                let text = one()?.trim();
                settings.logs_endpoint = if text.is_empty() { None } else { Some(parse_endpoint(text).map_err(fail)?) };
            }
            // Not trimmed: a secret is taken exactly as written (an empty one means none).
            "register_secret" => settings.register_secret = Secret::new(one()?),
            "audit_log" => {
                let path = one()?.trim();
                settings.audit_log = if path.is_empty() { None } else { Some(PathBuf::from(path)) };
            }
            "merged_reads" => settings.merged_reads = MergedReads::parse(one()?).map_err(fail)?,
            _ if HTTP_KEYS.contains(&name) => settings.http.set(name, one()?).map_err(fail)?,
            _ if REGISTRY_KEYS.contains(&name) => settings.registry.set(name, values).map_err(fail)?,
            _ if crate::placement::PLACEMENT_KEYS.contains(&name) => {
                settings.placement.set(name, one()?).map_err(fail)?;
            }
            _ => {
                let known: Vec<&str> = CLUSTER_KEYS.iter().chain(REGISTRY_KEYS).copied().collect();
                return Err(fail(format!("unknown key (known: {})", known.join(", "))));
            }
        }
        self.cluster = settings;
        Ok(())
    }
}

/// A whole number of at least 1.
fn parse_count(value: &str) -> Result<u32, String> {
    match value.trim().parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("'{value}' is not a whole number of at least 1")),
    }
}

/// A size in bytes, from [`MIN_MAX_MESSAGE_SIZE`] to `max`.
fn parse_size(value: &str, max: usize) -> Result<usize, String> {
    let range = format!("a number of bytes from {MIN_MAX_MESSAGE_SIZE} to {max}");
    match value.trim().parse::<usize>() {
        Ok(n) if (MIN_MAX_MESSAGE_SIZE..=max).contains(&n) => Ok(n),
        _ => Err(format!("'{value}' is not {range}")),
    }
}

/// `true` or `false` (INI files may also say yes/no, on/off, 1/0, as circus's own ini does).
fn parse_bool(value: &str) -> Result<bool, String> {
    clusterd_protocol::circus_bool(value).ok_or_else(|| format!("'{value}' is not true or false"))
}

/// A humantime duration of more than zero.
fn parse_duration(value: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(value.trim())
        .map_err(|e| format!("bad duration '{value}': {e} (write e.g. \"4s\" or \"500ms\")"))?;
    if duration.is_zero() {
        return Err(format!("bad duration '{value}': must be more than zero"));
    }
    Ok(duration)
}
