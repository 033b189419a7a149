//! Where things live under `etcd_prefix`:
//!
//! | key | value |
//! |---|---|
//! | `<prefix>/nodes/<name>` | one registered or discovered node ([`super::record`]) |
//! | `<prefix>/election/...` | etcd's election API: one key per master's campaign, with its lease |
//! | `<prefix>/placement/watchers/<name>` | one placed watcher (JSON, [`crate::placement::Placement`]) |
//! | `<prefix>/placement/drained/<node>` | a drained node (empty value) |
//! | `<prefix>/placement/epoch` | the last assignment epoch given out (decimal) |

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

    /// The prefix of every placement key.
    pub fn placement(&self) -> String {
        format!("{}/placement/", self.prefix)
    }

    /// One placed watcher's key.
    pub fn placed(&self, name: &str) -> String {
        format!("{}watchers/{name}", self.placement())
    }

    /// One drained node's key.
    pub fn drained(&self, node: &str) -> String {
        format!("{}drained/{node}", self.placement())
    }

    /// The assignment epoch's key.
    pub fn epoch(&self) -> String {
        format!("{}epoch", self.placement())
    }

    /// What a placement key names.
    pub fn placement_key<'a>(&self, key: &'a str) -> Option<PlacementKey<'a>> {
        let rest = key.strip_prefix(&self.placement())?;
        if rest == "epoch" {
            return Some(PlacementKey::Epoch);
        }
        let named = |prefix: &str| rest.strip_prefix(prefix).filter(|name| !name.is_empty());
        named("watchers/").map(PlacementKey::Watcher).or_else(|| named("drained/").map(PlacementKey::Drained))
    }
}

/// A key under `<prefix>/placement/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlacementKey<'a> {
    /// `watchers/<name>`.
    Watcher(&'a str),
    /// `drained/<node>`.
    Drained(&'a str),
    /// `epoch`.
    Epoch,
}
