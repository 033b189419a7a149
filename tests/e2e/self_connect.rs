//! A reply must be a reply (issue 11, item 11): a node socket that connected to itself over TCP
//! (a closed port in the ephemeral range, reached from the same source port) gets its own
//! request back. Made deterministic with a fake node that echoes every request: the node must
//! never turn `alive`, and a forwarded command never returns the request as its answer.

use cluster_e2e::background::Background;
use cluster_e2e::{json, master::CLUSTER_SECTION, paths, ports, Master};

/// A ZeroMQ ROUTER on `endpoint` sending every message back as it came, as a self-connected
/// DEALER would see it; prints `echoed COMMAND` for each.
fn echo_node(endpoint: &str) -> Background {
    let code = format!(
        r#"
import json, zmq
router = zmq.Context().socket(zmq.ROUTER)
router.bind({endpoint:?})
print("ready", flush=True)
while True:
    frames = router.recv_multipart()
    router.send_multipart(frames)
    print("echoed", json.loads(frames[-1]).get("command"), flush=True)
"#
    );
    let mut node = Background::spawn(&paths::venv_bin("python"), &["-c", code.as_str()]);
    node.wait_line("ready", |line| line == "ready");
    node
}

#[test]
fn an_echoed_request_is_never_a_reply() {
    let endpoint = ports::free_endpoint();
    let mut echo = echo_node(&endpoint);
    let master = Master::start_unsettled(&format!(
        "{CLUSTER_SECTION}down_after = 2\n\n[node.echo]\nendpoint = \"{endpoint}\"\nstats_endpoint = \"{}\"\n\
         pubsub_endpoint = \"{}\"\n",
        ports::free_endpoint(),
        ports::free_endpoint()
    ));
    // The probes do reach the fake node and come back...
    echo.wait_line("an echoed probe", |line| line == "echoed numwatchers");
    // ...but an echo is no answer: the node is missed until it is down.
    master.wait_node_state("echo", "down");
    let entry = master.node_entry("echo").expect("listed");
    assert!(entry["last_seen"].is_null(), "an echo counted as a sign of life: {entry}");
    let reply = master.call("numwatchers", json!({"node": "echo"}));
    assert_eq!(reply["status"], "error", "{reply}");
    assert!(reply.get("command").is_none(), "the request came back as the reply: {reply}");
    assert!(master.stderr().contains("dropped a message that is not a reply"), "{}", master.stderr());
}
