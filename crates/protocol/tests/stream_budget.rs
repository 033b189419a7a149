//! What a node's stream feed costs in descriptors, measured: alone in its test binary (it
//! was a unit test, and the node-link tests beside it open and close hundreds of descriptors
//! while it counted).

use std::net::TcpListener;

use clusterd_protocol::connection::budget::{Usage, FDS_PER_STREAM_FEED};
use clusterd_protocol::connection::stream::StreamReceiver;
use clusterd_protocol::connection::Context;

/// Feeds' SUB pairs (stats and events) connected to a TCP listener: the descriptors they add
/// per feed, the listener's accepted ends not counted. Many feeds are measured at once, so
/// that any noise is a fraction of a descriptor per feed, and the best of a few tries is taken.
#[tokio::test]
async fn a_stream_feed_costs_its_budget() {
    const FEEDS: usize = 25;
    let ctx = Context::new();
    let listener = TcpListener::bind("127.0.0.1:0").expect("listener");
    let endpoint = format!("tcp://{}", listener.local_addr().expect("address"));
    let _started = StreamReceiver::connect(&ctx, &endpoint, b"", 10, 1024).expect("a first SUB starts the context");
    let _first = listener.accept().expect("accept");
    let mut measured = Vec::new();
    for _ in 0..3 {
        let before = Usage::now().expect("/proc").open;
        let subs: Vec<StreamReceiver> = (0..2 * FEEDS)
            .map(|_| StreamReceiver::connect(&ctx, &endpoint, b"stat.", 10, 1024).expect("connect"))
            .collect();
        let accepted: Vec<_> = (0..2 * FEEDS).map(|_| listener.accept().expect("accept")).collect();
        // libzmq's I/O thread holds each TCP socket once the listener accepted it.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let after = Usage::now().expect("/proc").open;
        let per_feed = after.saturating_sub(before + accepted.len()) as f64 / FEEDS as f64;
        measured.push(per_feed);
        drop((subs, accepted));
        if (per_feed - FDS_PER_STREAM_FEED as f64).abs() < 0.5 {
            return;
        }
    }
    panic!("a stream feed cost {measured:?} descriptors, FDS_PER_STREAM_FEED is {FDS_PER_STREAM_FEED}");
}
