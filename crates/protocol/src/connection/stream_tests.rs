//! Tests of the stream sockets (`stream.rs`).

use std::time::{Duration, Instant};

use super::*;

/// Publishes `count` messages and returns how many the (never reading until now) subscriber
/// got.
fn flood(sender: &StreamSender, sub: &zmq::Socket, count: usize) -> usize {
    // libzmq looks at the subscriber's "read so far" notices at most once a millisecond of
    // sending: a pause first, so that the queue starts empty in the PUB's eyes.
    std::thread::sleep(Duration::from_millis(20));
    for _ in 0..count {
        sender.send_owned(b"stat.x".to_vec(), b"{}".to_vec()).expect("send");
    }
    std::iter::from_fn(|| sub.recv_multipart(zmq::DONTWAIT).ok()).count()
}

#[test]
fn a_new_queue_limit_applies_to_subscribers_already_connected() {
    let ctx = Context::new();
    let sender = StreamSender::bind(&ctx, "inproc://queue-limit", 10).expect("bind");
    let sub = ctx
        .open(|context| {
            let sub = context.socket(zmq::SUB)?;
            sub.set_rcvhwm(1)?;
            sub.connect("inproc://queue-limit")?;
            sub.set_subscribe(b"stat.")?;
            Ok(sub)
        })
        .map_err(|e| e.0)
        .expect("subscriber");
    // Until the subscription reached the PUB.
    let deadline = Instant::now() + Duration::from_secs(5);
    while flood(&sender, &sub, 1) == 0 {
        assert!(Instant::now() < deadline, "the subscription never arrived");
        std::thread::sleep(Duration::from_millis(10));
    }
    let small = flood(&sender, &sub, 1000);
    assert!(small <= 50, "a queue of 10 passed {small} of 1,000");
    sender.set_queue_limit(500).expect("queue limit");
    let large = flood(&sender, &sub, 1000);
    assert!(large >= 400, "a queue of 500 passed only {large} of 1,000");
}

#[test]
fn owned_frames_make_the_same_publication_as_borrowed_ones() {
    let cases: [Vec<Vec<u8>>; 4] = [
        vec![b"stat.x".to_vec(), b"{}".to_vec()],
        vec![b"stat.x".to_vec(), b"{\"a\"".to_vec(), b": 1}".to_vec()],
        vec![b"stat.x".to_vec()],
        vec![b"stat.x".to_vec(), vec![b'a'; 100]],
    ];
    for frames in cases {
        let borrowed = publication(&frames.iter().map(Vec::as_slice).collect::<Vec<_>>(), 50);
        assert_eq!(owned_publication(frames, 50), borrowed);
    }
}

#[test]
fn subscriptions_are_reported_until_their_last_holder_goes() {
    let ctx = Context::new();
    let sender = StreamSender::bind(&ctx, "inproc://subscriptions", 10).expect("bind");
    let subscriber = |prefix: &'static [u8]| {
        ctx.open(|context| {
            let sub = context.socket(zmq::SUB)?;
            sub.set_linger(0)?;
            sub.connect("inproc://subscriptions")?;
            sub.set_subscribe(prefix)?;
            Ok(sub)
        })
        .map_err(|e| e.0)
        .expect("subscriber")
    };
    let mut prefixes = BTreeSet::new();
    let held = |prefixes: &mut BTreeSet<Vec<u8>>, wanted: &[&[u8]]| {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            sender.take_subscriptions(prefixes);
            if prefixes.iter().map(Vec::as_slice).eq(wanted.iter().copied()) {
                return;
            }
            assert!(Instant::now() < deadline, "held {prefixes:?}, wanted {wanted:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    let first = subscriber(b"stat.first-");
    let all = subscriber(b"stat.");
    let again = subscriber(b"stat.");
    held(&mut prefixes, &[b"stat.", b"stat.first-"]);
    drop(all);
    std::thread::sleep(Duration::from_millis(50));
    held(&mut prefixes, &[b"stat.", b"stat.first-"]);
    drop(again);
    held(&mut prefixes, &[b"stat.first-"]);
    first.set_unsubscribe(b"stat.first-").expect("unsubscribe");
    held(&mut prefixes, &[]);
}
