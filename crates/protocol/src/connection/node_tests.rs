//! The nodes' shared ROUTER against fake nodes (ROUTERs answering `<name>:<request>`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{ConnectionError, Context, NodeEvent, NodeSocket};

/// A fake node on its own thread and context: a ROUTER that answers every request at once.
struct FakeNode {
    endpoint: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeNode {
    fn start(name: &str, endpoint: &str) -> FakeNode {
        let context = zmq::Context::new();
        let socket = context.socket(zmq::ROUTER).expect("router");
        socket.set_linger(0).expect("linger");
        socket.bind(endpoint).expect("bind");
        let endpoint = socket.get_last_endpoint().expect("endpoint").expect("utf-8");
        let stop = Arc::new(AtomicBool::new(false));
        let (name, stopping) = (name.to_string(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                if socket.poll(zmq::POLLIN, 20).unwrap_or(0) == 0 {
                    continue;
                }
                let frames = socket.recv_multipart(0).expect("recv");
                let reply = [name.as_bytes(), b":", &frames[1]].concat();
                socket.send_multipart([frames[0].clone(), reply], 0).expect("reply");
            }
        });
        FakeNode { endpoint, stop, thread: Some(thread) }
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().expect("fake node");
        }
    }
}

impl Drop for FakeNode {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sends `frame` once the connection is up (at most 10 s).
fn send_when_up(socket: &NodeSocket, frame: &[u8]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match socket.send(frame) {
            Ok(()) => return,
            Err(ConnectionError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(err) => panic!("never connected: {err}"),
        }
    }
}

async fn next(socket: &mut NodeSocket) -> NodeEvent {
    tokio::time::timeout(Duration::from_secs(10), socket.recv()).await.expect("an event in time").expect("an event")
}

#[tokio::test]
async fn replies_go_to_the_socket_of_the_node_that_sent_them() {
    let ctx = Context::new();
    let (first, second) =
        (FakeNode::start("first", "tcp://127.0.0.1:*"), FakeNode::start("second", "tcp://127.0.0.1:*"));
    let mut to_first = NodeSocket::connect(&ctx, &first.endpoint).expect("connect");
    let mut to_second = NodeSocket::connect(&ctx, &second.endpoint).expect("connect");
    send_when_up(&to_second, b"b");
    send_when_up(&to_first, b"a");
    assert_eq!(next(&mut to_first).await, NodeEvent::Reply(b"first:a".to_vec()));
    assert_eq!(next(&mut to_second).await, NodeEvent::Reply(b"second:b".to_vec()));
    // Both are connections of one socket, in the nodes' thread's one context.
    assert_eq!(ctx.contexts(), 1);
}

#[tokio::test]
async fn a_send_to_a_node_with_no_connection_fails_at_once() {
    let ctx = Context::new();
    // Nothing listens on port 9.
    let socket = NodeSocket::connect(&ctx, "tcp://127.0.0.1:9").expect("connect");
    let started = Instant::now();
    assert!(matches!(socket.send(b"status"), Err(ConnectionError::WouldBlock)));
    assert!(started.elapsed() < Duration::from_secs(5), "not queued: {:?}", started.elapsed());
    assert!(NodeSocket::connect(&ctx, "tcp://no port").is_err(), "a malformed endpoint is refused");
}

#[tokio::test]
async fn a_restarted_node_is_reported_and_its_connection_works_again() {
    let ctx = Context::new();
    let mut node = FakeNode::start("first", "tcp://127.0.0.1:*");
    let endpoint = node.endpoint.clone();
    let mut socket = NodeSocket::connect(&ctx, &endpoint).expect("connect");
    send_when_up(&socket, b"before");
    assert_eq!(next(&mut socket).await, NodeEvent::Reply(b"first:before".to_vec()));

    node.stop();
    drop(node);
    assert_eq!(next(&mut socket).await, NodeEvent::Disconnected);
    assert!(matches!(socket.send(b"while down"), Err(ConnectionError::WouldBlock)), "down: fails at once");

    let _node = FakeNode::start("again", &endpoint);
    send_when_up(&socket, b"after");
    assert_eq!(next(&mut socket).await, NodeEvent::Reply(b"again:after".to_vec()));
}

#[tokio::test]
async fn a_node_connected_again_after_its_socket_was_dropped_gets_its_own_replies() {
    let ctx = Context::new();
    let node = FakeNode::start("first", "tcp://127.0.0.1:*");
    let old = NodeSocket::connect(&ctx, &node.endpoint).expect("connect");
    send_when_up(&old, b"old");
    // Dropped with its reply in flight, then the same endpoint again (a node removed and
    // added back): the new socket has a routing id of its own, and only its own replies.
    drop(old);
    let mut new = NodeSocket::connect(&ctx, &node.endpoint).expect("connect again");
    send_when_up(&new, b"new");
    assert_eq!(next(&mut new).await, NodeEvent::Reply(b"first:new".to_vec()));
    // Two sockets on one endpoint: dropping one leaves the other connected.
    let mut third = NodeSocket::connect(&ctx, &node.endpoint).expect("a second connection");
    send_when_up(&third, b"third");
    assert_eq!(next(&mut third).await, NodeEvent::Reply(b"first:third".to_vec()));
    drop(third);
    send_when_up(&new, b"still");
    assert_eq!(next(&mut new).await, NodeEvent::Reply(b"first:still".to_vec()));
}

#[tokio::test]
async fn a_connect_libzmq_refuses_is_reported_by_send() {
    let ctx = Context::new();
    // Well-formed, but past the 107 bytes of a Unix socket path: libzmq alone refuses it.
    let endpoint = format!("ipc:///tmp/{}", "x".repeat(200));
    let socket = NodeSocket::connect(&ctx, &endpoint).expect("not waited for");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match socket.send(b"status") {
            Err(ConnectionError::Zmq { op: "connect", .. }) => break,
            Err(ConnectionError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => panic!("expected libzmq's refusal, got {other:?}"),
        }
    }
}
