//! A fake answerer of Circus's UDP discovery (circus-protocol.md §1.5), on loopback and unicast
//! only: the tests never enable circusd's own `multicast_endpoint` nor join a multicast group.

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Answers every datagram, as circusd does, from its bound port back to the sender with
/// `{"endpoint": "<endpoint>"}`. Stops on drop.
pub struct FakeResponder {
    /// The port it listens on, on 127.0.0.1.
    pub port: u16,
    queries: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeResponder {
    /// Starts answering with `endpoint` (e.g. a real circusd's command endpoint).
    pub fn start(endpoint: &str) -> FakeResponder {
        FakeResponder::answering_from(endpoint, None)
    }

    /// Like [`FakeResponder::start`], but every answer is sent from another socket than the one
    /// queried, as a forger who learnt the query's port would: no answer to trust.
    pub fn forging(endpoint: &str) -> FakeResponder {
        FakeResponder::answering_from(endpoint, Some(UdpSocket::bind("127.0.0.1:0").expect("bind the forger")))
    }

    fn answering_from(endpoint: &str, forger: Option<UdpSocket>) -> FakeResponder {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind the fake responder");
        socket.set_read_timeout(Some(Duration::from_millis(50))).expect("read timeout");
        let port = socket.local_addr().expect("address").port();
        let answer = serde_json::json!({ "endpoint": endpoint }).to_string();
        let (queries, stop) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicBool::new(false)));
        let thread = {
            let (queries, stop) = (queries.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut buffer = [0u8; 1024];
                while !stop.load(Ordering::Relaxed) {
                    if let Ok((_, peer)) = socket.recv_from(&mut buffer) {
                        queries.fetch_add(1, Ordering::Relaxed);
                        let _ = forger.as_ref().unwrap_or(&socket).send_to(answer.as_bytes(), peer);
                    }
                }
            })
        };
        FakeResponder { port, queries, stop, thread: Some(thread) }
    }

    /// How many queries it has answered.
    pub fn queries(&self) -> usize {
        self.queries.load(Ordering::Relaxed)
    }
}

impl Drop for FakeResponder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
