//! Tests of the forwarding thread (`forward.rs`) over inproc sockets of one context.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::*;
use crate::connection::Context;

/// One publication as the handler saw it: source, topic, payload, frames, oversized.
type Record = (u64, Vec<u8>, Vec<u8>, usize, bool);

/// What the test handler saw, shared with the test.
#[derive(Default)]
struct Seen {
    publications: Vec<Record>,
    detached: Vec<u64>,
    prefixes: BTreeSet<Vec<u8>>,
}

/// Republishes each publication as `fwd.<tag>.<topic>` with its payload, and records everything.
struct Recorder {
    tags: HashMap<u64, &'static str>,
    seen: Arc<Mutex<Seen>>,
}

impl Handler for Recorder {
    type Tag = &'static str;

    fn attached(&mut self, id: u64, tag: &'static str) {
        self.tags.insert(id, tag);
    }

    fn detached(&mut self, id: u64) {
        self.seen.lock().unwrap().detached.push(id);
    }

    fn publication(&mut self, id: u64, p: &Publication<'_>, out: &StreamSender) {
        let record = (id, p.topic.to_vec(), p.payload.to_vec(), p.frames, p.oversized);
        self.seen.lock().unwrap().publications.push(record);
        let topic = [b"fwd.", self.tags[&id].as_bytes(), b".", p.topic].concat();
        out.send_built(&topic, p.payload.to_vec()).expect("publish");
    }

    fn turn_done(&mut self, _id: u64) {}

    fn subscriptions(&mut self, prefixes: &BTreeSet<Vec<u8>>) {
        self.seen.lock().unwrap().prefixes.clone_from(prefixes);
    }
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn sources_are_read_rewritten_and_published_until_detached() {
    let ctx = Context::new();
    let out = StreamSender::bind(&ctx, "inproc://forward-out", 1000).expect("bind out");
    let seen = Arc::new(Mutex::new(Seen::default()));
    let recorder = Recorder { tags: HashMap::new(), seen: seen.clone() };
    let forwarder = Forwarder::start("forward-test", out, recorder, 100).expect("start");

    let open = |kind, endpoint: &str, bind: bool| {
        ctx.open(|context| {
            let socket = context.socket(kind)?;
            socket.set_linger(0)?;
            if bind {
                socket.bind(endpoint)?;
            } else {
                socket.connect(endpoint)?;
            }
            Ok(socket)
        })
        .map_err(|e| e.0)
        .expect("socket")
    };
    let client = open(zmq::SUB, "inproc://forward-out", false);
    client.set_subscribe(b"fwd.").expect("subscribe");
    wait_until("the subscription to reach the handler", || seen.lock().unwrap().prefixes.contains(&b"fwd."[..]));

    let node = open(zmq::PUB, "inproc://forward-node", true);
    let source = Source::connect(&ctx, "inproc://forward-node", b"stat.", 100, 100).expect("source");
    let id = forwarder.attach(source, "first");
    // Published again until the source's subscription reached the node's PUB.
    let mut received = Vec::new();
    wait_until("a forwarded publication", || {
        node.send_multipart([&b"stat.a"[..], b"{}"], 0).expect("publish");
        received.extend(std::iter::from_fn(|| client.recv_multipart(zmq::DONTWAIT).ok()));
        !received.is_empty()
    });
    assert_eq!(received[0], vec![b"fwd.first.stat.a".to_vec(), b"{}".to_vec()]);

    node.send_multipart([&b"stat.b"[..], b"{\"x\"", b": 1}"], 0).expect("publish");
    node.send_multipart([&b"stat.c"[..], &[b'a'; 200][..]], 0).expect("publish");
    wait_until("the joined and the oversized publication", || seen.lock().unwrap().publications.len() >= 3);
    {
        let seen = seen.lock().unwrap();
        let last: Vec<_> = seen.publications.iter().rev().take(2).rev().cloned().collect();
        assert_eq!(
            last[0],
            (id, b"stat.b".to_vec(), b"{\"x\": 1}".to_vec(), 3, false),
            "frames after the first are joined"
        );
        assert_eq!(last[1], (id, Vec::new(), Vec::new(), 2, true), "nothing of an oversized one is kept");
    }

    forwarder.detach(id);
    wait_until("the detach", || seen.lock().unwrap().detached == vec![id]);
    let before = seen.lock().unwrap().publications.len();
    node.send_multipart([&b"stat.a"[..], b"{}"], 0).expect("publish");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(seen.lock().unwrap().publications.len(), before, "a detached source is not read");
}
