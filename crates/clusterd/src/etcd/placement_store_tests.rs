//! The placement keys against a real etcd (Debian's etcd-server, started by the e2e fixture):
//! what [`diff`] writes reads back as the desired state it was made from, removals included.

use std::collections::BTreeMap;

use cluster_e2e::etcd::Etcd;
use etcd_client::{Client, GetOptions, Txn};
use serde_json::Map;

use super::super::keys::PlacementKey;
use super::super::placement_watch::read_back;
use super::{diff, Keys};
use crate::placement::{Desired, Placement};

fn placed(name: &str, nodes: &[&str], epoch: u64) -> Placement {
    let mut add = Map::new();
    add.insert("cmd".into(), "sleep 3600".into());
    Placement {
        name: name.into(),
        add,
        constraint: None,
        replicas: nodes.len(),
        failover: true,
        strategy: None,
        nodes: nodes.iter().map(|n| n.to_string()).collect(),
        epoch,
        superseded: BTreeMap::new(),
        held: None,
    }
}

async fn write_and_read(client: &mut Client, keys: &Keys, before: &Desired, after: &Desired) -> Desired {
    client.txn(Txn::new().and_then(diff(keys, before, after))).await.expect("txn");
    let read = client.get(keys.placement(), Some(GetOptions::new().with_prefix())).await.expect("get");
    read_back(keys, read.kvs())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_diff_writes_reads_back_as_the_desired_state() {
    if !Etcd::available() {
        eprintln!("skipped: no etcd binary");
        return;
    }
    let etcd = Etcd::start();
    let mut client = Client::connect([&etcd.url], None).await.expect("connect");
    let keys = Keys::new("/t/placed");

    let mut first = Desired { epoch: 2, ..Desired::default() };
    first.placements.insert("web".into(), placed("web", &["a"], 1));
    first.placements.insert("db".into(), placed("db", &["b", "c"], 2));
    first.drained.insert("c".into());
    let back = write_and_read(&mut client, &keys, &Desired::default(), &first).await;
    assert_eq!(back, first);

    // A failover, an rm and an undrain: one changed, one deleted, one node undrained.
    let mut second = first.clone();
    second.epoch = 3;
    let mut web = placed("web", &["b"], 3);
    web.superseded.insert("a".into(), 3);
    second.placements.insert("web".into(), web);
    second.placements.remove("db");
    second.drained.clear();
    assert_eq!(diff(&keys, &first, &second).len(), 4);
    assert!(diff(&keys, &second, &second).is_empty(), "nothing changed, nothing written");
    let back = write_and_read(&mut client, &keys, &first, &second).await;
    assert_eq!(back, second);
    drop(etcd);
}

#[test]
fn placement_keys_are_told_apart() {
    let keys = Keys::new("/c");
    assert_eq!(keys.placement_key(&keys.placed("web")), Some(PlacementKey::Watcher("web")));
    assert_eq!(keys.placement_key(&keys.drained("n1")), Some(PlacementKey::Drained("n1")));
    assert_eq!(keys.placement_key(&keys.epoch()), Some(PlacementKey::Epoch));
    assert_eq!(keys.placement_key("/c/placement/watchers/"), None);
    assert_eq!(keys.placement_key("/c/nodes/web"), None);
}

/// A master's context on `etcd_url` (`registry = "etcd"`, prefix `/t/deposed`), with no node.
fn ctx_on(etcd_url: &str) -> std::sync::Arc<crate::Ctx> {
    use cluster_e2e::ports::free_port;
    let text = format!(
        "[cluster]\nendpoint = \"tcp://127.0.0.1:{}\"\nstats_endpoint = \"tcp://127.0.0.1:{}\"\n\
         pubsub_endpoint = \"tcp://127.0.0.1:{}\"\nstate_file = \"\"\nregistry = \"etcd\"\nmaster_name = \"me\"\n\
         etcd_endpoints = [\"{etcd_url}\"]\netcd_prefix = \"/t/deposed\"\n",
        free_port(),
        free_port(),
        free_port()
    );
    let path = std::path::Path::new("/nonexistent/cluster.toml");
    let settings = crate::config::Config::parse(path, &text).expect("config").cluster;
    let zmq = clusterd_protocol::connection::Context::new();
    let streams = crate::streams::Streams::start(
        &zmq,
        &settings.stats_endpoint,
        &settings.pubsub_endpoint,
        settings.max_stream_message_size,
    )
    .expect("streams");
    let registry = crate::registry::Registry::new(zmq, crate::node_life::probe_policy(&settings), streams);
    std::sync::Arc::new(crate::Ctx::new(settings, path.into(), registry))
}

async fn campaign(client: &mut Client, name: &str) -> (i64, super::super::Fence) {
    let lease = client.lease_grant(5, None).await.expect("lease").id();
    let reply = client.campaign("/t/deposed/election", name, lease).await.expect("campaign");
    let key = reply.leader().expect("leader key");
    (lease, super::super::Fence { key: key.key().to_vec(), revision: key.rev() })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deposed_leaders_placement_is_refused_and_taken_back() {
    use crate::placement::shared::SharedStore;
    if !Etcd::available() {
        eprintln!("skipped: no etcd binary");
        return;
    }
    let etcd = Etcd::start();
    let ctx = ctx_on(&etcd.url);
    let keys = Keys::new("/t/deposed");
    let store = super::Store::new(&ctx, keys.clone(), vec![etcd.url.clone()]);
    let mut mine = Client::connect([&etcd.url], None).await.expect("connect");
    let mut other = Client::connect([&etcd.url], None).await.expect("connect");

    // Not leading yet: refused, naming why.
    ctx.shared.set_available();
    assert!(store.refusal().is_some_and(|r| r.contains("no master leads yet")), "{:?}", store.refusal());
    let (lease, fence) = campaign(&mut mine, "me").await;
    ctx.shared.set_fence(Some(fence.clone()));
    assert!(store.refusal().is_some_and(|r| r.starts_with("taking over")), "decides before reading etcd");
    store.load(&ctx, Desired::default(), Some(fence.revision)).await;
    assert_eq!(store.refusal(), None);

    // The leader's decision is written.
    ctx.placement.desired().placements.insert("web".into(), placed("web", &["a"], 1));
    ctx.placement.desired().epoch = 1;
    store.write().await.expect("the leader writes");
    let stored = |client: &mut Client| {
        let mut client = client.clone();
        let keys = keys.clone();
        async move {
            let read = client.get(keys.placement(), Some(GetOptions::new().with_prefix())).await.expect("get");
            read_back(&keys, read.kvs())
        }
    };
    assert_eq!(stored(&mut other).await.placements.keys().collect::<Vec<_>>(), ["web"]);

    // Its lease ends (as when it is frozen past the TTL) and another master wins; it still
    // believes it leads. Its late decision is refused by etcd and taken back here.
    let waiting = tokio::spawn(async move { campaign(&mut other, "other").await });
    mine.lease_revoke(lease).await.expect("revoke");
    let _other_leads = tokio::time::timeout(std::time::Duration::from_secs(10), waiting).await.expect("elected");
    ctx.placement.desired().placements.insert("api".into(), placed("api", &["b"], 2));
    ctx.placement.desired().epoch = 2;
    let refused = store.write().await.expect_err("a deposed leader's write");
    assert!(refused.contains("not the leader any more"), "{refused}");
    let local = ctx.placement.desired().clone();
    assert_eq!(local.placements.keys().collect::<Vec<_>>(), ["web"], "the refused decision is taken back");
    assert_eq!(local.epoch, 1);
    let in_etcd = stored(&mut mine).await;
    assert_eq!(in_etcd.placements.keys().collect::<Vec<_>>(), ["web"], "the late write must not apply");
    assert_eq!(in_etcd.epoch, 1);

    // Once it knows another master leads, it says so.
    ctx.shared.set_fence(None);
    ctx.shared.set_leader(Some("other".into()));
    let reason = store.refusal().unwrap_or_default();
    assert!(reason.contains("not the leader") && reason.contains("'other'"), "{reason}");
    drop(etcd);
}
