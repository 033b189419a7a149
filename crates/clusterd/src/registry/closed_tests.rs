//! A closed registry (the master's last act when it stops) is never taken for an empty one.

use std::time::Duration;

use clusterd_protocol::connection::Context;
use clusterd_protocol::Endpoint;

use super::{ProbePolicy, Registry, Source};
use crate::config::NodeSpec;
use crate::streams::Streams;

fn free_endpoint() -> Endpoint {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    format!("tcp://{}", listener.local_addr().expect("address")).parse().expect("endpoint")
}

#[tokio::test]
async fn after_close_all_the_registry_gives_no_list_to_save() {
    let ctx = Context::new();
    let streams = Streams::start(&ctx, &free_endpoint(), &free_endpoint(), 1 << 20).expect("streams");
    let policy = ProbePolicy { heartbeat: Duration::from_secs(1), down_after: 3, max_probes_per_sec: 1000 };
    let registry = Registry::new(ctx, policy, streams);
    let spec = NodeSpec {
        name: "one".into(),
        endpoint: "tcp://127.0.0.1:9".parse().expect("endpoint"),
        pubsub_endpoint: None,
        stats_endpoint: None,
        tags: Vec::new(),
    };
    registry.insert(spec, Source::Registered).expect("inserted");
    assert_eq!(registry.all_unless_closed().map(|nodes| nodes.len()), Some(1));
    registry.close_all();
    assert!(registry.all().is_empty());
    assert!(registry.all_unless_closed().is_none(), "a closed registry must not be saved as empty");
}
