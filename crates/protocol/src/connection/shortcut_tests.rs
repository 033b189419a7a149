//! The command endpoint on the nodes' thread: what the shortcut takes is answered there, the
//! rest reaches the master's loop, and a forwarded request always gets an answer.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{CommandServer, ConnectionError, Context, Forward, NodeRoute, NodeSocket, Outcome};
use crate::message::Request;

/// A node that answers `{"id", "status": "ok", "echo": command}` at once, and never answers `hang`.
struct JsonNode {
    endpoint: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl JsonNode {
    fn start() -> JsonNode {
        let context = zmq::Context::new();
        let socket = context.socket(zmq::ROUTER).expect("router");
        socket.set_linger(0).expect("linger");
        socket.bind("tcp://127.0.0.1:*").expect("bind");
        let endpoint = socket.get_last_endpoint().expect("endpoint").expect("utf-8");
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                if socket.poll(zmq::POLLIN, 20).unwrap_or(0) == 0 {
                    continue;
                }
                let frames = socket.recv_multipart(0).expect("recv");
                let request: Value = serde_json::from_slice(&frames[1]).expect("json");
                if request["command"] == "hang" {
                    continue;
                }
                let reply = json!({"id": request["id"], "status": "ok", "echo": request["command"]});
                socket.send_multipart([frames[0].clone(), reply.to_string().into_bytes()], 0).expect("reply");
            }
        });
        JsonNode { endpoint, stop, thread: Some(thread) }
    }
}

impl Drop for JsonNode {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().expect("json node");
        }
    }
}

/// Forwards every command but `loop` to `route`, within `timeout`; the client's reply tells what
/// became of it.
struct ToOneNode {
    route: NodeRoute,
    timeout: Duration,
}

impl super::Shortcut for ToOneNode {
    fn forward(&self, _client: &[u8], body: &[u8], upstream_id: &str) -> Option<Forward> {
        let request = Request::decode(body, 1 << 20).ok()?;
        if request.command == "loop" {
            return None;
        }
        let frame = request.encode_with_id(&Value::String(upstream_id.to_string()));
        let client_id = request.id.clone();
        let answer = move |outcome: Outcome| {
            let what = match outcome {
                Outcome::Reply(reply) => json!({"reply": reply.0}),
                Outcome::Unanswered(why) => json!({"unanswered": format!("{why:?}")}),
            };
            json!({"id": client_id, "outcome": what}).to_string().into_bytes()
        };
        Some(Forward { route: self.route, frame, timeout: self.timeout, answer: Box::new(answer) })
    }

    fn undelivered(&self, err: &ConnectionError) {
        panic!("a reply was not delivered: {err}");
    }
}

/// A master's command endpoint on the nodes' thread of `ctx`, with the shortcut to `node`.
fn endpoint(ctx: &Context, node: &NodeSocket, timeout: Duration) -> CommandServer {
    let server = CommandServer::bind_on_node_thread(ctx, "tcp://127.0.0.1:*").expect("bind");
    server.set_shortcut(Arc::new(ToOneNode { route: node.route(), timeout }));
    server
}

fn client(server: &CommandServer) -> zmq::Socket {
    let client = zmq::Context::new().socket(zmq::DEALER).expect("dealer");
    client.set_linger(0).expect("linger");
    client.set_rcvtimeo(10_000).expect("timeout");
    client.connect(&server.bound_endpoint()).expect("connect");
    client
}

fn call(client: &zmq::Socket, command: &str, id: &str) -> Value {
    client.send(json!({"id": id, "command": command, "properties": {}}).to_string().as_bytes(), 0).expect("send");
    serde_json::from_slice(&client.recv_bytes(0).expect("a reply in time")).expect("json")
}

/// A connection to `node`, once it is up.
async fn linked(ctx: &Context, node: &JsonNode) -> NodeSocket {
    let link = NodeSocket::connect(ctx, &node.endpoint).expect("connect");
    until_up(&link).await;
    link
}

/// Waits (at most 10 s) until the node's connection is up: before that the shortcut's send fails
/// and the request goes to the loop, which these tests do not want.
async fn until_up(node: &NodeSocket) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !node.is_up() {
        assert!(Instant::now() < deadline, "the node connection never came up");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits (at most 10 s) until the shortcut holds a request.
async fn until_forwarded(server: &CommandServer) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.forwarded() == 0 {
        assert!(Instant::now() < deadline, "never forwarded");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_request_for_the_node_is_answered_by_the_thread_and_the_rest_reaches_the_loop() {
    let (ctx, node) = (Context::new(), JsonNode::start());
    let mut link = linked(&ctx, &node).await;
    let mut server = endpoint(&ctx, &link, Duration::from_secs(10));
    let client = client(&server);
    let forwarded = call(&client, "status", "mine");
    assert_eq!(forwarded["id"], "mine");
    assert_eq!(forwarded["outcome"]["reply"]["echo"], "status");
    assert!(forwarded["outcome"]["reply"]["id"].as_str().is_some_and(|id| id.starts_with("clusterd-")));
    assert_eq!(server.forwarded(), 0);
    // The link saw nothing of it.
    assert!(tokio::time::timeout(Duration::from_millis(100), link.recv()).await.is_err());

    let looped = tokio::task::spawn_blocking(move || call(&client, "loop", "theirs"));
    let frames = tokio::time::timeout(Duration::from_secs(10), server.recv()).await.expect("in time").expect("frames");
    assert_eq!(Request::decode(&frames[1], 1 << 20).expect("request").command, "loop");
    server.send(&[&frames[0], br#"{"id": "theirs", "status": "ok"}"#]).expect("send");
    assert_eq!(looped.await.expect("client")["id"], "theirs");
}

#[tokio::test]
async fn a_forwarded_request_is_answered_when_its_node_is_silent_or_gone() {
    let (ctx, node) = (Context::new(), JsonNode::start());
    let link = linked(&ctx, &node).await;
    {
        let server = endpoint(&ctx, &link, Duration::from_millis(200));
        let timed_out = call(&client(&server), "hang", "t");
        assert_eq!(timed_out["outcome"]["unanswered"], "Timeout(200ms)");
    }
    // One command endpoint per nodes' thread: the first one is closed when it is dropped.
    let server = endpoint(&ctx, &link, Duration::from_secs(60));
    let client = client(&server);
    client.send(&br#"{"id": "g", "command": "hang", "properties": {}}"#[..], 0).expect("send");
    until_forwarded(&server).await;
    // The master drops the node's connection (the node was unregistered): answered at once.
    drop(link);
    let gone: Value = serde_json::from_slice(&client.recv_bytes(0).expect("a reply in time")).expect("json");
    assert_eq!(gone["outcome"]["unanswered"], "Gone");
    assert_eq!(server.forwarded(), 0);
}

#[tokio::test]
async fn a_stopping_master_abandons_what_the_shortcut_still_waits_for() {
    let (ctx, node) = (Context::new(), JsonNode::start());
    let link = linked(&ctx, &node).await;
    let server = endpoint(&ctx, &link, Duration::from_secs(60));
    let client = client(&server);
    client.send(&br#"{"id": "s", "command": "hang", "properties": {}}"#[..], 0).expect("send");
    until_forwarded(&server).await;
    server.abandon_forwarded("stopping");
    let abandoned: Value = serde_json::from_slice(&client.recv_bytes(0).expect("a reply in time")).expect("json");
    assert_eq!(abandoned["outcome"]["unanswered"], r#"Abandoned("stopping")"#);
}

#[tokio::test]
async fn a_direct_call_gets_its_reply_from_the_thread_and_never_waits_on_a_connection_not_up() {
    let (ctx, node) = (Context::new(), JsonNode::start());
    let link = linked(&ctx, &node).await;
    let caller = link.caller();
    let encode = |id: &str| json!({"id": id, "command": "status", "properties": {}}).to_string().into_bytes();
    match caller.call(encode, Duration::from_secs(10)).await {
        Outcome::Reply(reply) => assert_eq!(reply.0["echo"], "status"),
        other => panic!("expected the node's reply, got {other:?}"),
    }
    let hang = |id: &str| json!({"id": id, "command": "hang", "properties": {}}).to_string().into_bytes();
    let timed_out = caller.call(hang, Duration::from_millis(100)).await;
    assert!(matches!(timed_out, Outcome::Unanswered(super::Unanswered::Timeout(_))), "{timed_out:?}");

    // Nothing listens on port 9: not sent, at once (the link's own path waits for the connection).
    let nowhere = NodeSocket::connect(&ctx, "tcp://127.0.0.1:9").expect("connect");
    let started = Instant::now();
    let not_sent = nowhere.caller().call(encode, Duration::from_secs(10)).await;
    assert!(matches!(not_sent, Outcome::Unanswered(super::Unanswered::NotSent)), "{not_sent:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}
