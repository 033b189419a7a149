//! The publisher task: the only owner of the merged event XPUB (the stats XPUB belongs to the
//! forwarding thread, `streams/forwarding.rs`).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clusterd_protocol::connection::stream::StreamSender;
use clusterd_protocol::connection::ConnectionError;
use tokio::sync::{mpsc, watch};
use tracing::{debug, warn};

use super::interest::Interest;
use super::queue_limit::QueueLimit;
use super::tap::{Tap, TapKind};

/// One rewritten message for a merged stream.
pub struct Message {
    /// The node it came from.
    pub node: Arc<str>,
    /// The merged topic.
    pub topic: Vec<u8>,
    /// The payload, `node` spliced in.
    pub payload: Vec<u8>,
    /// Whether it also goes to the in-process tap (a sample of the stats, every event).
    pub tap: bool,
}

impl Message {
    /// The bytes it holds.
    fn bytes(&self) -> usize {
        self.topic.len() + self.payload.len()
    }
}

/// What the feeds hand to the publisher.
pub enum Out {
    /// A rewritten or master event.
    Event(Message),
}

impl Out {
    /// The bytes this message holds while it waits in the queue.
    fn bytes(&self) -> usize {
        match self {
            Out::Event(m) => m.bytes(),
        }
    }
}

/// The queue from the feeds (and the registry's cluster events) to the publisher, bounded both
/// in messages and in bytes: a node publishing large messages fills the byte budget long before
/// the message count, and what does not fit is dropped by the sender (and counted).
#[derive(Clone)]
pub struct Queue {
    tx: mpsc::Sender<Out>,
    bytes: Arc<AtomicUsize>,
    max_bytes: usize,
}

/// Why [`Queue::try_send`] did not queue a message.
pub enum Refused {
    /// The queue holds its maximum of messages or bytes.
    Full,
    /// The publisher is gone (the master is stopping).
    Closed,
}

/// The publisher's end of a [`Queue`].
pub struct QueueReceiver {
    rx: mpsc::Receiver<Out>,
    bytes: Arc<AtomicUsize>,
}

/// A queue of at most `messages` messages and `max_bytes` bytes.
pub fn queue(messages: usize, max_bytes: usize) -> (Queue, QueueReceiver) {
    let (tx, rx) = mpsc::channel(messages);
    let bytes = Arc::new(AtomicUsize::new(0));
    (Queue { tx, bytes: bytes.clone(), max_bytes }, QueueReceiver { rx, bytes })
}

impl Queue {
    /// Queues `out` unless the queue is full (in messages or bytes) or closed.
    pub fn try_send(&self, out: Out) -> Result<(), Refused> {
        let size = out.bytes();
        if self.bytes.fetch_add(size, Ordering::Relaxed) + size > self.max_bytes && size > 0 {
            self.bytes.fetch_sub(size, Ordering::Relaxed);
            return Err(Refused::Full);
        }
        self.tx.try_send(out).map_err(|err| {
            self.bytes.fetch_sub(size, Ordering::Relaxed);
            match err {
                mpsc::error::TrySendError::Full(_) => Refused::Full,
                mpsc::error::TrySendError::Closed(_) => Refused::Closed,
            }
        })
    }
}

impl QueueReceiver {
    async fn recv(&mut self) -> Option<Out> {
        let out = self.rx.recv().await?;
        self.bytes.fetch_sub(out.bytes(), Ordering::Relaxed);
        Some(out)
    }
}

/// Before publishing anything, give subscribers that were waiting for the master (they retry
/// their connection every 100 ms or more) time to connect, so that the start-up events
/// (`cluster.<node>.joined`, the first `alive`) are not lost to ZeroMQ's "slow joiner" effect.
/// Messages wait in the queue meanwhile.
const STARTUP_GRACE: Duration = Duration::from_secs(1);

/// How often the subscribers' prefixes are read from the XPUBs: a new subscriber waits at most
/// this long for the nodes' streams it wants to be asked for.
const SUBSCRIPTIONS_TICK: Duration = Duration::from_millis(100);

/// One merged XPUB, its subscribers' queue limit and the prefixes they hold.
pub struct Merged {
    sender: StreamSender,
    limit: QueueLimit,
    prefixes: BTreeSet<Vec<u8>>,
}

impl Merged {
    /// Binds the PUB: `endpoint`, for messages of at most `max_message` bytes.
    ///
    /// # Errors
    /// The endpoint cannot be bound.
    pub fn bind(
        ctx: &clusterd_protocol::connection::Context,
        endpoint: &str,
        max_message: usize,
    ) -> Result<Merged, ConnectionError> {
        let limit = QueueLimit::new(max_message);
        Ok(Merged { sender: StreamSender::bind(ctx, endpoint, limit.current())?, limit, prefixes: BTreeSet::new() })
    }

    /// Publishes `[topic, payload]`, first moving the subscribers' queue limit if its size
    /// asks for it (`streams/queue_limit.rs`).
    fn send(&mut self, topic: Vec<u8>, payload: Vec<u8>) -> Result<(), ConnectionError> {
        self.limit.before_publish(&self.sender, topic.len() + payload.len())?;
        self.sender.send_owned(topic, payload)
    }

    /// Takes in the subscriptions that came and went; true when the prefixes held changed.
    fn take_subscriptions(&mut self) -> bool {
        self.sender.take_subscriptions(&mut self.prefixes)
    }

    /// Publishes `message`, and offers it to `tap` as `kind` when it was chosen for it.
    fn publish(&mut self, message: Message, kind: TapKind, tap: &Tap) -> Result<(), ConnectionError> {
        let Message { node, topic, payload, tap: tapped } = message;
        let copy = tapped.then(|| (topic.clone(), payload.clone()));
        let sent = self.send(topic, payload);
        if let Some((topic, payload)) = copy {
            tap.offer(kind, Some(node), topic, payload);
        }
        sent
    }
}

/// Publishes every event that arrives on `rx` until every feed and the registry are gone, offers
/// them to the in-process `tap` once published, and keeps `interest` up to date with the
/// prefixes the event XPUB's subscribers hold.
pub async fn run(mut events: Merged, mut rx: QueueReceiver, tap: Tap, interest: Arc<watch::Sender<Interest>>) {
    tokio::time::sleep(STARTUP_GRACE).await;
    let mut tick = tokio::time::interval(SUBSCRIPTIONS_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        let out = tokio::select! {
            out = rx.recv() => match out {
                Some(out) => out,
                None => return,
            },
            _ = tick.tick() => {
                if events.take_subscriptions() {
                    debug!(events = events.prefixes.len(), "event subscriptions changed");
                    interest.send_modify(|i| i.events.clone_from(&events.prefixes));
                }
                continue;
            }
        };
        let Out::Event(message) = out;
        if let Err(err) = events.publish(message, TapKind::Event, &tap) {
            warn!(cause = %err, "publish failed");
        }
    }
}
