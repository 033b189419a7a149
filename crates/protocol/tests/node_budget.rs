//! What a node's command link costs in descriptors, measured: alone in its test binary, so
//! that no other test opens descriptors meanwhile.

use std::time::{Duration, Instant};

use clusterd_protocol::connection::budget::{Usage, FDS_PER_NODE};
use clusterd_protocol::connection::{CommandServer, ConnectionError, Context, NodeSocket};

const NODES: usize = 200;

fn open_fds() -> usize {
    Usage::now().expect("/proc on Linux").open
}

#[tokio::test]
async fn a_node_costs_its_budget() {
    // A ROUTER per node stands in for it (opened before the count); each connection costs its
    // server one accepted descriptor.
    let servers_ctx = Context::new();
    let servers: Vec<CommandServer> =
        (0..=NODES).map(|_| CommandServer::bind(&servers_ctx, "tcp://127.0.0.1:*").expect("bind")).collect();
    let endpoints: Vec<String> = servers.iter().map(CommandServer::bound_endpoint).collect();

    // The first connection starts the shared socket, its thread and context: not per node.
    let ctx = Context::new();
    let first = NodeSocket::connect(&ctx, &endpoints[NODES]).expect("connect");
    wait_connected(&first);
    let before = open_fds();
    let sockets: Vec<NodeSocket> =
        endpoints[..NODES].iter().map(|endpoint| NodeSocket::connect(&ctx, endpoint).expect("connect")).collect();
    sockets.iter().for_each(wait_connected);
    let after = open_fds();

    // Each node: its TCP connection, and the server's end of it.
    let per_node = (after - before) as f64 / NODES as f64 - 1.0;
    eprintln!("{per_node} descriptors per node link ({before} -> {after} for {NODES} nodes and the server's ends)");
    assert!(per_node <= FDS_PER_NODE as f64, "{per_node} descriptors per node link, budgeted {FDS_PER_NODE}");
    drop(sockets);
}

fn wait_connected(socket: &NodeSocket) {
    let deadline = Instant::now() + Duration::from_secs(20);
    // A request the server never answers: the send succeeds once the handshake is done.
    while let Err(ConnectionError::WouldBlock) = socket.send(b"{}") {
        assert!(Instant::now() < deadline, "never connected");
        std::thread::sleep(Duration::from_millis(10));
    }
}
