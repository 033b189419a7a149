//! The standard two-node cluster of the Circus cluster docs: node `first` with watcher `dummy`
//! (1 process), node `second` with `dummy2` (2 processes), and a master over both.

use crate::master::{node_section, CLUSTER_SECTION};
use crate::{CircusNode, Master};

/// Three nodes with watcher `dummy` (1 process): `node1` tagged `eu`, `node2` tagged `eu` and
/// `canary`, `node3` untagged, behind a master that declares them.
pub fn tagged_trio() -> (Vec<CircusNode>, Master) {
    tagged_trio_keyed("")
}

/// `merged_reads = "strict"`: merged reads all or nothing, as before partial results.
pub const STRICT_READS: &str = "merged_reads = \"strict\"\n";

/// [`tagged_trio`] with more `[cluster]` keys (`key = value` lines).
pub fn tagged_trio_keyed(cluster_keys: &str) -> (Vec<CircusNode>, Master) {
    let nodes: Vec<CircusNode> =
        ["node1", "node2", "node3"].iter().map(|n| CircusNode::start(n, &[("dummy", 1)])).collect();
    let mut config = format!("{CLUSTER_SECTION}{cluster_keys}");
    for (node, tags) in nodes.iter().zip([r#"["eu"]"#, r#"["eu", "canary"]"#, "[]"]) {
        config.push_str(&node_section(node));
        config.push_str(&format!("tags = {tags}\n"));
    }
    let master = Master::start_with_config(&config);
    (nodes, master)
}

/// Two real circusd nodes behind a real clusterd. Fields drop in order: master first.
pub struct Cluster {
    /// The clusterd over both nodes.
    pub master: Master,
    /// Node `first`: watcher `dummy`, 1 process.
    pub first: CircusNode,
    /// Node `second`: watcher `dummy2`, 2 processes.
    pub second: CircusNode,
}

impl Cluster {
    /// Starts both nodes, then the master, and waits until all answer.
    pub fn start() -> Cluster {
        Cluster::start_keyed("")
    }

    /// Like [`Cluster::start`] with more `[cluster]` keys (`key = value` lines).
    pub fn start_keyed(cluster_keys: &str) -> Cluster {
        let first = CircusNode::start("first", &[("dummy", 1)]);
        let second = CircusNode::start("second", &[("dummy2", 2)]);
        let master = Master::start_keyed(&[&first, &second], cluster_keys);
        Cluster { master, first, second }
    }

    /// The master's command endpoint.
    pub fn ep(&self) -> &str {
        &self.master.endpoint
    }

    /// Every watcher of both nodes, qualified (`first:dummy`), sorted; asked of the nodes.
    pub fn qualified_watchers(&self) -> Vec<String> {
        let mut all: Vec<String> = [&self.first, &self.second]
            .iter()
            .flat_map(|node| node.watcher_names().into_iter().map(move |w| format!("{}:{w}", node.name)))
            .collect();
        all.sort();
        all
    }
}
