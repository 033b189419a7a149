//! Fencing against a real etcd (Debian's etcd-server, started on loopback ports by the e2e
//! fixture): a deposed leader's late write is refused, the new leader's applies.

use std::time::Duration;

use cluster_e2e::etcd::Etcd;
use etcd_client::{Client, TxnOp};

use super::{write, Fence, FenceError};

async fn campaign(client: &mut Client, name: &str) -> (i64, Fence) {
    let lease = client.lease_grant(2, None).await.expect("lease").id();
    let reply = client.campaign("/t/election", name, lease).await.expect("campaign");
    let key = reply.leader().expect("leader key");
    (lease, Fence { key: key.key().to_vec(), revision: key.rev() })
}

async fn value(client: &mut Client) -> String {
    let reply = client.get("/t/decision", None).await.expect("get");
    reply.kvs().first().map(|kv| kv.value_str().unwrap().to_string()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_leaders_write_is_refused() {
    let etcd = Etcd::start();
    let mut first = Client::connect([&etcd.url], None).await.expect("connect");
    let mut second = Client::connect([&etcd.url], None).await.expect("connect");

    let (first_lease, first_fence) = campaign(&mut first, "first").await;
    write(&mut first, &first_fence, vec![TxnOp::put("/t/decision", "first", None)]).await.expect("leader writes");

    // The second master waits for the leadership; the first loses its lease (as when it is
    // frozen past the TTL) but still holds its old fence.
    let waiting = tokio::spawn(async move {
        let fence = campaign(&mut second, "second").await.1;
        (second, fence)
    });
    first.lease_revoke(first_lease).await.expect("revoke");
    let (mut second, second_fence) =
        tokio::time::timeout(Duration::from_secs(10), waiting).await.expect("second elected").unwrap();

    let late = write(&mut first, &first_fence, vec![TxnOp::put("/t/decision", "stale", None)]).await;
    assert_eq!(late, Err(FenceError::Deposed(first_fence.revision)));
    assert_eq!(value(&mut first).await, "first", "the stale write must not apply");

    write(&mut second, &second_fence, vec![TxnOp::put("/t/decision", "second", None)]).await.expect("new leader");
    assert_eq!(value(&mut second).await, "second");
    drop(etcd);
}
