//! The nodes' ROUTER and what the thread knows of each connection on it.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::{routing_id, Peer};
use crate::connection::shortcut::NodeRoute;

/// One node connection as the thread knows it.
pub(super) struct Route {
    pub(super) endpoint: String,
    pub(super) peer: Arc<Peer>,
    pub(super) replies: mpsc::Sender<Vec<u8>>,
}

/// The nodes' ROUTER and what the thread knows of its connections.
pub(super) struct Nodes {
    pub(super) router: zmq::Socket,
    pub(super) peers: HashMap<u64, Route>,
    /// The connections made to each endpoint (libzmq's events name the endpoint only).
    pub(super) endpoints: HashMap<String, Vec<u64>>,
}

impl Nodes {
    /// Sends `frame` on `route` if its connection is up; false when it is not, or libzmq
    /// refused (no pipe, full queue): nothing was sent.
    pub(super) fn try_send(&mut self, route: NodeRoute, frame: &[u8]) -> bool {
        let up = self.peers.get(&route.0).is_some_and(|r| r.peer.connected.load(Ordering::Acquire));
        up && self
            .router
            .send(&routing_id(route.0)[..], zmq::DONTWAIT | zmq::SNDMORE)
            .and_then(|()| self.router.send(frame, zmq::DONTWAIT))
            .is_ok()
    }

    /// The connections to `endpoint` as libzmq names it (`tcp://[::1]:5555` may have been given
    /// as `tcp://[0::1]:5555`).
    pub(super) fn ids_on(&self, endpoint: &str) -> Vec<u64> {
        if let Some(ids) = self.endpoints.get(endpoint) {
            return ids.clone();
        }
        let wanted = socket_address(endpoint);
        self.endpoints
            .iter()
            .filter(|(given, _)| wanted.is_some() && socket_address(given) == wanted)
            .flat_map(|(_, ids)| ids.iter().copied())
            .collect()
    }
}

fn socket_address(endpoint: &str) -> Option<std::net::SocketAddr> {
    endpoint.strip_prefix("tcp://")?.parse().ok()
}
