//! The one scripted master of clusterctl's integration tests: a ROUTER on a free loopback port
//! (the protocol crate's [`CommandServer`]) answering each request as the test scripts it, and a
//! PUB for events when the test wants one. It hands back every request it received.

use std::thread::JoinHandle;
use std::time::Duration;

use clusterd_protocol::connection::stream::StreamSender;
use clusterd_protocol::connection::{CommandServer, Context};
use serde_json::Value;

use super::ports::free_endpoint;

/// What the scripted master does for one request (its command and properties): the reply (its
/// `id` is set to the request's), and events `(topic, payload)` to publish after it.
pub type Respond = Box<dyn FnMut(&str, &Value) -> (Value, Vec<(String, Value)>) + Send>;

/// One request as the scripted master received it.
pub struct Seen {
    /// The frame exactly as it came over the wire.
    pub raw: String,
    pub command: String,
    pub properties: Value,
}

/// Starts a master answering `count` requests with `respond`; events go out on a PUB bound at
/// `pubsub`. Returns its endpoint and the thread that gives the requests back once all
/// `count` came (it panics when the client sends fewer within 20 s of the last).
pub fn serve(count: usize, pubsub: Option<String>, mut respond: Respond) -> (String, JoinHandle<Vec<Seen>>) {
    let endpoint = free_endpoint();
    let bind = endpoint.clone();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        let ctx = Context::new();
        let publisher = pubsub.map(|pubsub| StreamSender::bind(&ctx, &pubsub, 1000).unwrap());
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let mut router = CommandServer::bind(&ctx, &bind).unwrap();
            ready_tx.send(()).unwrap();
            let mut seen = Vec::new();
            for _ in 0..count {
                let wait = tokio::time::timeout(Duration::from_secs(20), router.recv()).await;
                let frames = wait.expect("the client sent fewer requests than scripted").unwrap();
                let raw = String::from_utf8(frames[1].clone()).unwrap();
                let request: Value = serde_json::from_str(&raw).unwrap();
                let (command, properties) =
                    (request["command"].as_str().unwrap().to_string(), request["properties"].clone());
                let (mut reply, events) = respond(&command, &properties);
                reply["id"] = request["id"].clone();
                router.send(&[&frames[0], reply.to_string().as_bytes()]).unwrap();
                for (topic, payload) in events {
                    publisher.as_ref().unwrap().send(topic.as_bytes(), payload.to_string().as_bytes()).unwrap();
                }
                seen.push(Seen { raw, command, properties });
            }
            seen
        })
    });
    ready_rx.recv().unwrap();
    (endpoint, handle)
}

/// A master answering with `replies`, one per request in order, whatever was asked.
pub fn canned(replies: Vec<Value>) -> (String, JoinHandle<Vec<Seen>>) {
    let count = replies.len();
    let mut replies = replies.into_iter();
    serve(count, None, Box::new(move |_, _| (replies.next().expect("one reply per request"), vec![])))
}
