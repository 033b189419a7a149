//! One node as kept in etcd: JSON with the state file's fields (`name`, `endpoint`,
//! `stats_endpoint`, `pubsub_endpoint`, `source`, `tags`).

use clusterd_protocol::names::validate_node_name;
use clusterd_protocol::Endpoint;
use serde::{Deserialize, Serialize};

use crate::config::NodeSpec;
use crate::registry::{Node, Source};

#[derive(Serialize, Deserialize)]
struct Record {
    name: String,
    endpoint: String,
    stats_endpoint: Option<String>,
    pubsub_endpoint: Option<String>,
    source: String,
    #[serde(default)]
    tags: Vec<String>,
}

/// The value written for a node.
pub fn encode(spec: &NodeSpec, source: Source) -> String {
    let record = Record {
        name: spec.name.clone(),
        endpoint: spec.endpoint.to_string(),
        stats_endpoint: spec.stats_endpoint.as_ref().map(ToString::to_string),
        pubsub_endpoint: spec.pubsub_endpoint.as_ref().map(ToString::to_string),
        source: source.as_str().to_string(),
        tags: spec.tags.clone(),
    };
    serde_json::to_string(&record).expect("a record always serialises")
}

/// A node read back; checked like the state file's entries.
///
/// # Errors
/// What is wrong with the value.
pub fn decode(text: &str) -> Result<(NodeSpec, Source), String> {
    let record: Record = serde_json::from_str(text).map_err(|e| e.to_string())?;
    validate_node_name(&record.name)?;
    let endpoint = |text: &Option<String>| {
        text.as_deref().map(str::parse::<Endpoint>).transpose().map_err(|e| format!("node {}: {e}", record.name))
    };
    let source = match record.source.as_str() {
        "registered" => Source::Registered,
        "discovered" => Source::Discovered,
        other => return Err(format!("node {}: source '{other}' is not registered or discovered", record.name)),
    };
    let spec = NodeSpec {
        endpoint: endpoint(&Some(record.endpoint.clone()))?.expect("given"),
        stats_endpoint: endpoint(&record.stats_endpoint)?,
        pubsub_endpoint: endpoint(&record.pubsub_endpoint)?,
        tags: record.tags,
        name: record.name,
    };
    Ok((spec, source))
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
