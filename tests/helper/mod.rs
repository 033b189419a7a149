//! Test fixtures for clusterd's end-to-end tests: real circusd nodes (from the project's Python
//! venv) behind the real `clusterd` binary, driven by stock `circusctl`, Circus's Python
//! `CircusClient`, `clusterctl` and the protocol crate's [`Client`].
//!
//! * [`ports`]: loopback ports that never collide, within this process or across processes;
//! * [`node::CircusNode`]: one circusd in a temp dir, killed with its whole process tree on drop;
//! * [`master::Master`]: one clusterd, killed on drop, its stderr kept in a file and printed when
//!   the test fails;
//! * [`cli`]: running `circusctl`, `clusterctl` and Python snippets;
//! * [`stream`]: reading a PUB stream (merged stats or events) with deadlines;
//! * [`tmux`]: a terminal program (circus-top) in a detached tmux session;
//! * [`simnode::SimNodes`]: simulated nodes (the `simnode` binary), for scale and soak tests only;
//! * [`traffic::Traffic`]: commands flowing through the master while a test breaks something;
//! * [`lab::Lab`]: hosts of their own (network namespaces on a bridge), partitions, as root;
//! * [`worker::worker_ini`]: a worker circusd's ini that joins a master with `clusterctl join`;
//! * [`etcd::Etcd`]: a real etcd on loopback ports, for `registry = "etcd"`;
//! * [`udp::FakeResponder`]: a loopback, unicast answerer of Circus's UDP discovery;
//! * [`background`]: a client that runs until stopped (`circusctl listen`);
//! * [`http`]: a small HTTP/1.1 and server-sent events client for the dashboard, and a two-node
//!   cluster with `http_endpoint` on ([`http::dashboard_cluster`]);
//! * [`browser::Browser`]: a real headless Chromium page (tests/browser/driver.js);
//! * [`paths`]: where the binaries and the venv are.
//!
//! Everything here is blocking and waits by polling against [`TIMEOUT`], never with bare sleeps.
//! Before running the tests, build the binaries (`cargo build --workspace --bins`) and the venv
//! (`make venv`); `make test` does both.

// These docs are for contributors (`cargo doc --document-private-items`, checked by `make lint`):
// they point at private items on purpose.
#![allow(rustdoc::private_intra_doc_links)]

pub mod background;
pub mod browser;
pub mod cli;
pub mod cluster;
pub mod etcd;
pub mod http;
pub mod lab;
pub mod master;
pub mod node;
pub mod paths;
pub mod ports;
pub mod procs;
pub mod publisher;
pub mod simnode;
pub mod stream;
pub mod tmux;
pub mod traffic;
pub mod udp;
pub mod worker;

use std::time::{Duration, Instant};

pub use cluster::Cluster;
pub use clusterd_protocol::connection::Client;
pub use clusterd_protocol::{Reply, Request};
pub use master::Master;
pub use node::CircusNode;
pub use serde_json::{json, Map, Value};
pub use simnode::{SimNode, SimNodes};

/// Global deadline for anything the fixtures wait for (a process to answer, a state to change).
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Interval between two polls.
pub const POLL: Duration = Duration::from_millis(50);

/// Polls `probe` until it returns `Ok`, or panics after [`TIMEOUT`] saying what was awaited.
///
/// # Panics
/// When the deadline passes; the message includes `what` and the last `Err` of `probe`.
pub fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match probe() {
            Ok(value) => return value,
            Err(last) if Instant::now() >= deadline => {
                panic!("timed out after {TIMEOUT:?} waiting for {what}; last seen: {last}")
            }
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

/// One request to any Circus-speaking endpoint; `timeout` bounds the wait for the reply.
///
/// # Errors
/// A transport error or timeout, as text.
pub fn call(endpoint: &str, command: &str, properties: Value, timeout: Duration) -> Result<Value, String> {
    let Value::Object(props) = properties else { panic!("properties must be a JSON object") };
    let client = Client::connect(endpoint, timeout).map_err(|e| e.to_string())?;
    let reply = client.call(&Request::new(command, props)).map_err(|e| e.to_string())?;
    Ok(Value::Object(reply.0))
}

/// `call` with a 10 s timeout that panics on transport errors: for requests that must be answered.
///
/// # Panics
/// On a timeout or a transport error.
pub fn must_call(endpoint: &str, command: &str, properties: Value) -> Value {
    call(endpoint, command, properties.clone(), Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("{command} {properties} to {endpoint}: {e}"))
}

/// Asserts that a reply is not an error and returns it.
///
/// # Panics
/// When `reply["status"]` is `"error"`.
#[track_caller]
pub fn ok(reply: Value) -> Value {
    assert_ne!(reply["status"], "error", "expected success, got {reply}");
    reply
}

/// Repeats a mutating request while circusd answers `arbiter is already running ... command`.
///
/// circusd holds an arbiter-wide lock while `manage_watchers` runs (every `check_delay`) and
/// refuses other mutating commands meanwhile (circus-protocol.md §2.5); clusterd relays that
/// error unchanged, as it should. Retrying it is what any client has to do.
pub fn retry_busy<T>(mut attempt: impl FnMut() -> T, is_busy: impl Fn(&T) -> bool) -> T {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let result = attempt();
        if !is_busy(&result) || Instant::now() >= deadline {
            return result;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// True for circusd's transient lock conflict, in a reply or in circusctl's output.
pub fn busy_text(text: &str) -> bool {
    text.contains("is already running")
}
