//! Where things live under `etcd_prefix`:
//!
//! | key | value |
//! |---|---|
//! | `<prefix>/nodes/<name>` | one registered or discovered node ([`super::record`]) |
//! | `<prefix>/election/...` | etcd's election API: one key per master's campaign, with its lease |

/// The keys of one cluster.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    /// The keys under `prefix` (absolute, without a trailing slash, as the configuration keeps it).
    pub fn new(prefix: &str) -> Self {
        Keys { prefix: prefix.to_string() }
    }

    /// The prefix of every node key.
    pub fn nodes(&self) -> String {
        format!("{}/nodes/", self.prefix)
    }

    /// One node's key.
    pub fn node(&self, name: &str) -> String {
        format!("{}{name}", self.nodes())
    }

    /// The node name of a node key, if it is one.
    pub fn node_name<'a>(&self, key: &'a str) -> Option<&'a str> {
        key.strip_prefix(&self.nodes()).filter(|name| !name.is_empty())
    }

    /// The election's name.
    pub fn election(&self) -> String {
        format!("{}/election", self.prefix)
    }
}
