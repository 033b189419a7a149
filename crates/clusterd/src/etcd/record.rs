//! One node as kept in etcd: JSON with the state file's fields (`name`, `endpoint`,
//! `stats_endpoint`, `pubsub_endpoint`, `source`, `tags`).

use crate::config::NodeSpec;
use crate::registry::{Node, Source};
use crate::state::SavedNode;

/// The value written for a node: the state file's form of it.
pub fn encode(spec: &NodeSpec, source: Source) -> String {
    serde_json::to_string(&SavedNode::from_spec(spec, source)).expect("a record always serialises")
}

/// A node read back; checked like the state file's entries.
///
/// # Errors
/// What is wrong with the value.
pub fn decode(text: &str) -> Result<(NodeSpec, Source), String> {
    serde_json::from_str::<SavedNode>(text).map_err(|e| e.to_string())?.into_spec()
}

/// True when `node` already is what `spec` says (a stream endpoint learnt from the node counts
/// as given when the record has none): reading it back changes nothing.
pub fn matches(node: &Node, spec: &NodeSpec, source: Source) -> bool {
    let current = node.spec();
    node.source == source
        && current.endpoint == spec.endpoint
        && current.tags == spec.tags
        && (spec.stats_endpoint.is_none() || current.stats_endpoint == spec.stats_endpoint)
        && (spec.pubsub_endpoint.is_none() || current.pubsub_endpoint == spec.pubsub_endpoint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_as_written() {
        let spec = NodeSpec {
            name: "web-1".into(),
            endpoint: "tcp://127.0.0.1:6555".parse().unwrap(),
            stats_endpoint: Some("tcp://127.0.0.1:6557".parse().unwrap()),
            pubsub_endpoint: None,
            tags: vec!["eu".into()],
        };
        let (back, source) = decode(&encode(&spec, Source::Discovered)).unwrap();
        assert_eq!(back, spec);
        assert_eq!(source, Source::Discovered);
    }

    #[test]
    fn a_bad_record_is_refused_with_a_reason() {
        let config = r#"{"name":"a","endpoint":"tcp://127.0.0.1:1","stats_endpoint":null,"pubsub_endpoint":null,"source":"config"}"#;
        assert!(decode(config).unwrap_err().contains("source 'config'"));
        assert!(decode("{").is_err());
        let bad_endpoint =
            r#"{"name":"a","endpoint":"nope","stats_endpoint":null,"pubsub_endpoint":null,"source":"registered"}"#;
        assert!(decode(bad_endpoint).unwrap_err().starts_with("node a:"));
    }
}
