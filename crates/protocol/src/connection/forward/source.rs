//! The SUB sockets a [`super::Forwarder`] reads.

use super::super::stream::sub_frame_limit;
use super::super::{ConnectionError, Context};

/// A SUB connected to one node's stream, not yet handed to a [`Forwarder`](super::Forwarder).
pub struct Source {
    pub(super) socket: zmq::Socket,
}

impl Source {
    /// Connects to `endpoint` and subscribes to `prefix`, queueing at most `rcvhwm` messages;
    /// frames above [`STREAM_FRAME_LIMIT`](super::super::stream::STREAM_FRAME_LIMIT) (or `max_message`, if larger) make libzmq drop the
    /// connection. libzmq reconnects by itself.
    ///
    /// # Errors
    /// The endpoint is malformed, or no socket can be opened.
    pub fn connect(
        ctx: &Context,
        endpoint: &str,
        prefix: &[u8],
        rcvhwm: i32,
        max_message: usize,
    ) -> Result<Source, ConnectionError> {
        let frame_limit = sub_frame_limit(max_message);
        let socket = ctx
            .open(|context| {
                let socket = context.socket(zmq::SUB)?;
                socket.set_linger(0)?;
                socket.set_rcvhwm(rcvhwm)?;
                socket.set_maxmsgsize(frame_limit)?;
                socket.set_reconnect_ivl(100)?;
                socket.set_reconnect_ivl_max(1000)?;
                socket.connect(endpoint)?;
                socket.set_subscribe(prefix)?;
                Ok(socket)
            })
            .map_err(|e| ConnectionError::zmq("connect", endpoint, e))?;
        Ok(Source { socket })
    }
}
