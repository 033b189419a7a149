//! The contexts' socket cap and the blocking client's deadlines.

use super::*;

#[test]
fn sockets_past_one_contexts_cap_open_in_another_context() {
    let ctx = Context::new();
    // 1,100 DEALERs: more than libzmq's 1,023 sockets per context.
    let sockets: Vec<zmq::Socket> = (0..1100)
        .map(|_| {
            ctx.open(|context| Ok(context.socket(zmq::DEALER)?)).unwrap_or_else(|_| panic!("a socket past the cap"))
        })
        .collect();
    assert_eq!(sockets.len(), 1100);
    assert_eq!(ctx.contexts(), 2);
    drop(sockets);
}

#[tokio::test]
async fn a_thousand_nodes_share_one_socket() {
    let ctx = Context::new();
    // Each NodeSocket used to be three sockets (4 contexts for these); now they are
    // connections of one ROUTER, beside its monitor.
    let sockets: Vec<NodeSocket> =
        (0..1100).map(|_| NodeSocket::connect(&ctx, "tcp://127.0.0.1:9").expect("a node connection")).collect();
    assert_eq!(sockets.len(), 1100);
    assert_eq!(ctx.contexts(), 1);
    drop(sockets);
}

#[test]
fn a_call_waits_its_own_timeout_and_none_answered_names_each_endpoint() {
    let client = Client::connect("tcp://127.0.0.1:9", Duration::from_secs(60)).unwrap();
    let request = crate::message::Request::new("status", serde_json::Map::new());
    // Nothing listens on port 9: the call ends at its own deadline, not the client's 60 s.
    assert!(matches!(client.call_within(&request, Duration::from_millis(50)), Err(ConnectionError::Timeout)));
    assert_eq!(client.timeout(), Duration::from_secs(60));
    let none = ConnectionError::NoneAnswered(vec![
        ("tcp://a:5558".into(), ConnectionError::Timeout),
        ("tcp://b:5558".into(), ConnectionError::WouldBlock),
    ]);
    assert_eq!(none.to_string(), "tcp://a:5558: Timed out.; tcp://b:5558: not connected");
}
