//! A one-shot request on a DEALER of its own, for endpoints that may hold nothing at all.

use std::time::Duration;

use futures::StreamExt;
use serde_json::Value;
use tmq::AsZmqSocket;

use super::{send_now, ConnectionError, Context, WIRE_LIMIT};
use crate::message::{Reply, Request};

/// One request on a DEALER of its own, made for it and dropped afterwards: discovery's
/// `globaloptions` probes of endpoints that may hold nothing at all.
///
/// Unlike [`NodeSocket`](super::NodeSocket), `IMMEDIATE` is not set, so the request waits in the socket until the
/// TCP connection and the ZeroMQ handshake are done; `timeout` bounds all of it (connection,
/// handshake, reply). `LINGER 0`: a probe of a closed port leaves nothing behind. Replies whose
/// `id` is not the probe's are skipped, and so is a message that is no reply at all (the request
/// itself, come back over a TCP self-connection: [`Reply::not_a_reply`]).
///
/// # Errors
/// [`ConnectionError::Timeout`] when nothing answered in time (closed port, not a ZeroMQ
/// ROUTER, silent peer); [`ConnectionError::BadReply`] when the answer is not a JSON object;
/// [`ConnectionError::Zmq`] when libzmq refuses the endpoint.
pub async fn probe(
    ctx: &Context,
    endpoint: &str,
    request: &Request,
    timeout: Duration,
) -> Result<Reply, ConnectionError> {
    // A host name is looked up here, bounded by the deadline, and never by libzmq inside
    // `connect` (synchronously, holding the contexts' lock).
    let resolved = match endpoint.parse::<crate::Endpoint>() {
        Ok(parsed) if parsed.needs_lookup() => {
            Some(crate::endpoint::resolve(&parsed, timeout).await.map_err(ConnectionError::Unresolved)?)
        }
        _ => None,
    };
    let endpoint = resolved.as_ref().map_or(endpoint, crate::Endpoint::as_str);
    let mut socket = ctx
        .open(|context| Ok(tmq::dealer(context).set_linger(0).set_maxmsgsize(WIRE_LIMIT).connect(endpoint)?))
        .map_err(|e| ConnectionError::zmq("connect", endpoint, e))?;
    let id = Value::String(uuid::Uuid::new_v4().simple().to_string());
    // Without IMMEDIATE the pipe exists as soon as `connect` returns: the message is queued.
    send_now(socket.get_socket(), &[&request.encode_with_id(&id)], endpoint)?;
    let exchange = async {
        loop {
            let bytes: Vec<u8> = match socket.next().await {
                Some(Ok(multipart)) => multipart.iter().flat_map(|m| m.to_vec()).collect(),
                Some(Err(err)) => return Err(ConnectionError::zmq("recv", endpoint, err)),
                None => return Err(ConnectionError::zmq("recv", endpoint, zmq::Error::ETERM)),
            };
            let reply = Reply::decode(&bytes).map_err(ConnectionError::BadReply)?;
            if reply.0.get("id") == Some(&id) && reply.not_a_reply().is_none() {
                return Ok(reply);
            }
        }
    };
    tokio::time::timeout(timeout, exchange).await.map_err(|_| ConnectionError::Timeout)?
}

#[cfg(test)]
mod tests {
    use serde_json::Map;

    use super::*;
    use crate::connection::CommandServer;

    #[tokio::test]
    async fn probe_returns_the_reply_carrying_its_id() {
        let ctx = Context::new();
        let mut server = CommandServer::bind(&ctx, "tcp://127.0.0.1:*").expect("bind");
        let endpoint = server.bound_endpoint();
        let answer = async {
            let frames = server.recv().await.expect("request");
            let request = Request::decode(&frames[1], 1 << 20).expect("decodable");
            // A reply with another id (a stale one) is skipped.
            let stale = Reply::ok(Map::new(), Value::String("stale".into())).encode();
            server.send(&[&frames[0], &stale]).expect("send");
            let fields = Map::from_iter([("options".to_string(), Value::from("here"))]);
            server.send(&[&frames[0], &Reply::ok(fields, request.id).encode()]).expect("send");
            request.command
        };
        let request = Request::new("globaloptions", Map::new());
        let (reply, command) = tokio::join!(probe(&ctx, &endpoint, &request, Duration::from_secs(5)), answer);
        assert_eq!(command, "globaloptions");
        assert_eq!(reply.expect("answered").0["options"], "here");
    }

    #[tokio::test]
    async fn probe_of_a_silent_port_times_out() {
        // A plain TCP listener accepts the connection but never speaks ZeroMQ.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let endpoint = format!("tcp://{}", listener.local_addr().expect("address"));
        let request = Request::new("globaloptions", Map::new());
        let started = std::time::Instant::now();
        let result = probe(&Context::new(), &endpoint, &request, Duration::from_millis(300)).await;
        assert!(matches!(result, Err(ConnectionError::Timeout)), "{result:?}");
        assert!(started.elapsed() < Duration::from_secs(3));
    }
}
