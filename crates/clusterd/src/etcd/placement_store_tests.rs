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

    let mut first = Desired::default();
    first.epoch = 2;
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
