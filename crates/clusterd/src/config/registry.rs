//! Where registered and discovered nodes are kept (`[cluster]` keys `registry`, `master_name`,
//! `etcd_endpoints`, `etcd_prefix`, `etcd_lease_ttl`): the state file of one master (the
//! default), or etcd, shared by several masters (docs/ha.md).

use std::time::Duration;

use clusterd_protocol::names::validate_node_name;

/// The `[cluster]` keys of the shared registry.
pub const REGISTRY_KEYS: &[&str] = &["registry", "master_name", "etcd_endpoints", "etcd_prefix", "etcd_lease_ttl"];

/// Default etcd endpoint (a local etcd's client port).
pub const DEFAULT_ETCD_ENDPOINT: &str = "http://127.0.0.1:2379";
/// Default key prefix; several clusters share one etcd with a prefix each.
pub const DEFAULT_ETCD_PREFIX: &str = "/clusterd/default";
/// Default lease of a master's election key: a leader killed with `kill -9` is replaced within it.
pub const DEFAULT_ETCD_LEASE_TTL: Duration = Duration::from_secs(5);
/// Longest `etcd_lease_ttl`: past it a dead leader would leave the cluster leaderless too long
/// to be what anyone wants.
pub const MAX_ETCD_LEASE_TTL: Duration = Duration::from_secs(600);

/// `registry = "file" | "etcd"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RegistryKind {
    /// The state file of this master (`state_file`).
    #[default]
    File,
    /// etcd, shared with the other masters of the cluster.
    Etcd,
}

/// The shared registry's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistrySettings {
    /// Where nodes are kept.
    pub kind: RegistryKind,
    /// This master's name, in `cluster.master.<name>.*` events and as the election's value;
    /// `None`: `<host name>-<command port>`, see [`RegistrySettings::master_name`].
    pub master_name: Option<String>,
    /// etcd client URLs (`http://host:port`).
    pub etcd_endpoints: Vec<String>,
    /// Every key of this cluster lives under it.
    pub etcd_prefix: String,
    /// The lease TTL of each master (whole seconds, etcd's granularity).
    pub etcd_lease_ttl: Duration,
}

impl Default for RegistrySettings {
    fn default() -> Self {
        RegistrySettings {
            kind: RegistryKind::File,
            master_name: None,
            etcd_endpoints: vec![DEFAULT_ETCD_ENDPOINT.to_string()],
            etcd_prefix: DEFAULT_ETCD_PREFIX.to_string(),
            etcd_lease_ttl: DEFAULT_ETCD_LEASE_TTL,
        }
    }
}

impl RegistrySettings {
    /// Sets the key `name` (one of [`REGISTRY_KEYS`]) from its value(s).
    ///
    /// # Errors
    /// Why the value is refused.
    pub fn set(&mut self, name: &str, values: &[String]) -> Result<(), String> {
        let one = || match values {
            [value] => Ok(value.trim()),
            _ => Err("expected one value, not a list".to_string()),
        };
        match name {
            "registry" => {
                self.kind = match one()? {
                    "file" => RegistryKind::File,
                    "etcd" => RegistryKind::Etcd,
                    other => return Err(format!("'{other}' is not \"file\" or \"etcd\"")),
                }
            }
            "master_name" => {
                let text = one()?;
                validate_node_name(text).map_err(|e| format!("bad master name: {e}"))?;
                self.master_name = Some(text.to_string());
            }
            "etcd_endpoints" => self.etcd_endpoints = parse_etcd_endpoints(values)?,
            "etcd_prefix" => self.etcd_prefix = parse_prefix(one()?)?,
            "etcd_lease_ttl" => self.etcd_lease_ttl = parse_ttl(one()?)?,
            _ => return Err(format!("unknown key (known: {})", REGISTRY_KEYS.join(", "))),
        }
        Ok(())
    }

    /// This master's name: `master_name`, or `<host name>-<port of endpoint>`.
    pub fn master_name(&self, endpoint: &clusterd_protocol::Endpoint) -> String {
        if let Some(name) = &self.master_name {
            return name.clone();
        }
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        let host: String =
            host.trim().chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' }).collect();
        let port = endpoint.as_str().rsplit(':').next().unwrap_or("0");
        format!("{}-{port}", if host.is_empty() { "clusterd" } else { &host })
    }
}

/// One or more `http://host:port` URLs; a single string may list several, comma-separated.
fn parse_etcd_endpoints(values: &[String]) -> Result<Vec<String>, String> {
    let urls: Vec<String> = values
        .iter()
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .map(str::to_string)
        .collect();
    if urls.is_empty() {
        return Err("at least one etcd endpoint is needed (e.g. \"http://127.0.0.1:2379\")".into());
    }
    for url in &urls {
        let rest = url.strip_prefix("http://").ok_or_else(|| {
            format!("'{url}' is not an http:// URL (TLS to etcd is not supported yet: e.g. \"http://127.0.0.1:2379\")")
        })?;
        let (host, port) = rest.rsplit_once(':').ok_or_else(|| format!("'{url}' has no port"))?;
        if host.is_empty() || port.parse::<u16>().map_or(true, |p| p == 0) {
            return Err(format!("'{url}' is not http://HOST:PORT"));
        }
    }
    Ok(urls)
}

/// An absolute key prefix without a trailing slash, e.g. `/clusterd/prod`.
fn parse_prefix(value: &str) -> Result<String, String> {
    let prefix = value.trim_end_matches('/');
    if !prefix.starts_with('/') || prefix.len() < 2 {
        return Err(format!("'{value}' is not an absolute key prefix like \"/clusterd/prod\""));
    }
    Ok(prefix.to_string())
}

/// Whole seconds from 1 s to [`MAX_ETCD_LEASE_TTL`].
fn parse_ttl(value: &str) -> Result<Duration, String> {
    let ttl =
        humantime::parse_duration(value).map_err(|e| format!("bad duration '{value}': {e} (write e.g. \"5s\")"))?;
    let max = MAX_ETCD_LEASE_TTL.as_secs();
    if ttl.subsec_nanos() != 0 || ttl.as_secs() == 0 || ttl.as_secs() > max {
        return Err(format!(
            "'{value}' is not a whole number of seconds from 1s to {max}s (etcd leases count seconds)"
        ));
    }
    Ok(ttl)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(key: &str, values: &[&str]) -> Result<RegistrySettings, String> {
        let mut settings = RegistrySettings::default();
        let values: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        settings.set(key, &values).map(|()| settings)
    }

    #[test]
    fn defaults_keep_the_state_file() {
        let settings = RegistrySettings::default();
        assert_eq!(settings.kind, RegistryKind::File);
        assert_eq!(settings.etcd_lease_ttl, Duration::from_secs(5));
        assert_eq!(settings.etcd_endpoints, ["http://127.0.0.1:2379"]);
    }

    #[test]
    fn reads_every_key() {
        assert_eq!(set("registry", &["etcd"]).unwrap().kind, RegistryKind::Etcd);
        assert_eq!(set("etcd_prefix", &["/clusterd/prod/"]).unwrap().etcd_prefix, "/clusterd/prod");
        assert_eq!(set("etcd_lease_ttl", &["2s"]).unwrap().etcd_lease_ttl, Duration::from_secs(2));
        let urls = set("etcd_endpoints", &["http://a:2379, http://b:2379"]).unwrap().etcd_endpoints;
        assert_eq!(urls, ["http://a:2379", "http://b:2379"]);
        assert_eq!(set("master_name", &["m1"]).unwrap().master_name.as_deref(), Some("m1"));
    }

    #[test]
    fn both_file_forms_read_the_keys() {
        use crate::config::Config;
        use std::path::Path;
        let toml = "[cluster]\nregistry = \"etcd\"\netcd_endpoints = [\"http://a:2379\", \"http://b:2379\"]\n\
                    etcd_lease_ttl = \"3s\"\nmaster_name = \"m1\"\n";
        let ini = "[circus-cluster]\nregistry = etcd\netcd_endpoints = http://a:2379, http://b:2379\n\
                   etcd_lease_ttl = 3s\nmaster_name = m1\n";
        for (file, text) in [("c.toml", toml), ("c.ini", ini)] {
            let registry = Config::parse(Path::new(file), text).unwrap().cluster.registry;
            assert_eq!(registry.kind, RegistryKind::Etcd, "{file}");
            assert_eq!(registry.etcd_endpoints, ["http://a:2379", "http://b:2379"], "{file}");
            assert_eq!(registry.etcd_lease_ttl, Duration::from_secs(3), "{file}");
            assert_eq!(registry.master_name.as_deref(), Some("m1"), "{file}");
        }
        let bad = Config::parse(Path::new("c.toml"), "[cluster]\netcd_lease_ttl = \"0s\"\n").unwrap_err();
        assert!(bad.to_string().contains("cluster.etcd_lease_ttl"), "{bad}");
    }

    #[test]
    fn refuses_bad_values_with_a_reason() {
        assert!(set("registry", &["zookeeper"]).unwrap_err().contains("\"file\" or \"etcd\""));
        assert!(set("etcd_lease_ttl", &["1500ms"]).unwrap_err().contains("whole number of seconds"));
        assert!(set("etcd_lease_ttl", &["2h"]).unwrap_err().contains("600s"));
        assert!(set("etcd_endpoints", &["https://a:2379"]).unwrap_err().contains("TLS"));
        assert!(set("etcd_endpoints", &[]).unwrap_err().contains("at least one"));
        assert!(set("etcd_prefix", &["clusterd"]).unwrap_err().contains("absolute"));
        assert!(set("master_name", &["a b"]).unwrap_err().contains("bad master name"));
    }
}
