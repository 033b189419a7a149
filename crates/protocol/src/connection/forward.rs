//! One thread that forwards many SUB sockets into one XPUB: the merged stats stream.
//!
//! A tokio task per node socket costs a task wake-up, a hand-over to the publishing task and
//! copies per message, three to four times a plain `zmq_proxy`'s CPU (docs/performance.md). Here
//! one thread owns every source SUB and the XPUB: it waits on their `ZMQ_FD`s with epoll
//! (`readiness`), reads each ready SUB into reused `zmq::Message`s (no copy out of libzmq),
//! lets the caller's [`Handler`] rewrite and publish, and goes on. Sources are attached and
//! detached from any thread ([`Forwarder::attach`]) through a channel and a wake-up pipe.

mod readiness;
mod source;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use super::stream::StreamSender;
use readiness::Readiness;
pub use source::Source;

/// Messages read from one source before the others get their turn (a node publishes a whole
/// stats cycle at once; a flooding one must not hold the others back).
const TURN: usize = 256;
/// Longest wait without anything ready: how late a dropped [`Forwarder`] stops the thread.
const IDLE_WAIT_MS: i32 = 100;
/// How often the XPUB's subscriptions are read when epoll did not report it.
const SUBSCRIPTIONS_EVERY: Duration = Duration::from_millis(20);
/// Keys of the descriptors that are not sources.
const WAKE: u64 = u64::MAX;
const XPUB: u64 = u64::MAX - 1;

/// One publication as received: `payload` is the second frame, or the frames after the first
/// joined when there were more (Circus always sends 2).
pub struct Publication<'a> {
    /// The first frame.
    pub topic: &'a [u8],
    /// The rest.
    pub payload: &'a [u8],
    /// How many frames it had.
    pub frames: usize,
    /// Larger than the forwarder's limit: `topic` and `payload` are empty.
    pub oversized: bool,
}

/// What the forwarding thread calls; runs on that thread only.
pub trait Handler: Send + 'static {
    /// What [`Forwarder::attach`] passes along with a source (which node it is, say).
    type Tag: Send + 'static;
    /// Source `id` starts being read.
    fn attached(&mut self, id: u64, tag: Self::Tag);
    /// Source `id` was closed.
    fn detached(&mut self, id: u64);
    /// One publication of source `id`; publish on `out` what should go out.
    fn publication(&mut self, id: u64, publication: &Publication<'_>, out: &StreamSender);
    /// The end of one turn of source `id` (count what the turn did, once).
    fn turn_done(&mut self, id: u64);
    /// The prefixes the XPUB's subscribers hold changed.
    fn subscriptions(&mut self, prefixes: &BTreeSet<Vec<u8>>);
}

enum Command<T> {
    Attach(u64, Source, T),
    Detach(u64),
}

/// The handle on the forwarding thread; cheap to clone. The thread stops when the last handle is
/// dropped.
pub struct Forwarder<T> {
    commands: mpsc::Sender<Command<T>>,
    wake: Arc<UnixStream>,
    next_id: Arc<AtomicU64>,
}

impl<T> Clone for Forwarder<T> {
    fn clone(&self) -> Self {
        Forwarder { commands: self.commands.clone(), wake: self.wake.clone(), next_id: self.next_id.clone() }
    }
}

impl<T: Send + 'static> Forwarder<T> {
    /// Starts the thread `name`, publishing on `out` what `handler` makes of each source's
    /// publications (of at most `max_message` bytes; larger ones are handed over `oversized`).
    ///
    /// # Errors
    /// The thread, its epoll or its wake-up pipe cannot be created.
    pub fn start<H: Handler<Tag = T>>(
        name: &str,
        out: StreamSender,
        handler: H,
        max_message: usize,
    ) -> std::io::Result<Forwarder<T>> {
        let (wake, woken) = UnixStream::pair()?;
        wake.set_nonblocking(true)?;
        woken.set_nonblocking(true)?;
        let readiness = Readiness::new(1024)?;
        readiness.add(woken.as_raw_fd(), WAKE)?;
        readiness.add(out.raw_fd().map_err(std::io::Error::other)?, XPUB)?;
        let (commands, inbox) = mpsc::channel();
        let mut thread = Thread {
            readiness,
            woken,
            inbox,
            out,
            handler,
            max_message,
            sources: HashMap::new(),
            ready: VecDeque::new(),
        };
        std::thread::Builder::new().name(name.into()).spawn(move || thread.run())?;
        Ok(Forwarder { commands, wake: Arc::new(wake), next_id: Arc::new(AtomicU64::new(1)) })
    }

    /// Hands `source` to the thread with `tag`; the id it returns detaches it.
    pub fn attach(&self, source: Source, tag: T) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.send(Command::Attach(id, source, tag));
        id
    }

    /// Closes source `id`.
    pub fn detach(&self, id: u64) {
        self.send(Command::Detach(id));
    }

    fn send(&self, command: Command<T>) {
        if self.commands.send(command).is_ok() {
            // A full pipe already holds a wake-up: nothing lost.
            let _ = (&*self.wake).write(&[1]);
        }
    }
}

/// A source being read, and whether it waits in the ready queue.
struct Attached {
    socket: zmq::Socket,
    queued: bool,
}

struct Thread<H: Handler> {
    readiness: Readiness,
    woken: UnixStream,
    inbox: mpsc::Receiver<Command<H::Tag>>,
    out: StreamSender,
    handler: H,
    max_message: usize,
    sources: HashMap<u64, Attached>,
    /// Sources to read, in turn.
    ready: VecDeque<u64>,
}

impl<H: Handler> Thread<H> {
    fn run(&mut self) {
        let (mut topic, mut payload, mut joined) = (zmq::Message::new(), zmq::Message::new(), Vec::new());
        let mut prefixes = BTreeSet::new();
        let mut subscriptions_read = Instant::now();
        loop {
            let timeout = if self.ready.is_empty() { IDLE_WAIT_MS } else { 0 };
            let (sources, ready) = (&mut self.sources, &mut self.ready);
            let mut subscribers_spoke = false;
            self.readiness.wait(timeout, |key| {
                subscribers_spoke |= key == XPUB;
                if let Some(source) = sources.get_mut(&key).filter(|source| !source.queued) {
                    source.queued = true;
                    ready.push_back(key);
                }
            });
            if !self.take_commands() {
                return;
            }
            for _ in 0..self.ready.len() {
                let Some(id) = self.ready.pop_front() else { break };
                if self.turn(id, &mut topic, &mut payload, &mut joined) {
                    self.ready.push_back(id);
                }
            }
            // Also read now and then when epoll says nothing: sending on the XPUB reads its
            // command mailbox, which can take the signal of a subscription that came. Not every
            // time round: each read that finds nothing costs a system call.
            if subscribers_spoke || subscriptions_read.elapsed() >= SUBSCRIPTIONS_EVERY {
                subscriptions_read = Instant::now();
                if self.out.take_subscriptions(&mut prefixes) {
                    self.handler.subscriptions(&prefixes);
                }
            }
        }
    }

    /// Applies the queued commands; false once every [`Forwarder`] is gone.
    fn take_commands(&mut self) -> bool {
        let mut drained = [0u8; 64];
        while matches!((&self.woken).read(&mut drained), Ok(n) if n > 0) {}
        loop {
            match self.inbox.try_recv() {
                Ok(Command::Attach(id, source, tag)) => {
                    let registered =
                        source.socket.get_fd().map_err(std::io::Error::other).and_then(|fd| self.readiness.add(fd, id));
                    self.handler.attached(id, tag);
                    // Not watched means not read: the source is closed at once, as if detached.
                    match registered {
                        Ok(()) => {
                            // Read once at once: libzmq signals the descriptor only for what
                            // comes after a read found nothing, and setting the socket up may
                            // already have taken its first signal.
                            self.sources.insert(id, Attached { socket: source.socket, queued: true });
                            self.ready.push_back(id);
                        }
                        Err(_) => self.handler.detached(id),
                    }
                }
                Ok(Command::Detach(id)) => {
                    if let Some(source) = self.sources.remove(&id) {
                        if let Ok(fd) = source.socket.get_fd() {
                            self.readiness.remove(fd);
                        }
                        self.handler.detached(id);
                    }
                }
                Err(mpsc::TryRecvError::Empty) => return true,
                Err(mpsc::TryRecvError::Disconnected) => return false,
            }
        }
    }

    /// Reads source `id` for one turn; true when it has more waiting.
    fn turn(&mut self, id: u64, topic: &mut zmq::Message, payload: &mut zmq::Message, joined: &mut Vec<u8>) -> bool {
        let Some(source) = self.sources.get_mut(&id) else { return false };
        let mut more = true;
        for _ in 0..TURN {
            if source.socket.recv(topic, zmq::DONTWAIT).is_err() {
                more = false;
                break;
            }
            let (mut frames, mut size) = (1, topic.len());
            joined.clear();
            // The frames of one message arrive together: these never wait.
            while topic.get_more() && frames == 1 || payload.get_more() && frames > 1 {
                if source.socket.recv(payload, zmq::DONTWAIT).is_err() {
                    break;
                }
                frames += 1;
                size += payload.len();
                if frames > 2 || payload.get_more() {
                    joined.extend_from_slice(payload);
                }
            }
            let oversized = size > self.max_message;
            let body: &[u8] = match (oversized, frames) {
                (true, _) | (false, 1) => &[],
                (false, 2) => payload,
                _ => joined,
            };
            let topic: &[u8] = if oversized { &[] } else { topic };
            let publication = Publication { topic, payload: body, frames, oversized };
            self.handler.publication(id, &publication, &self.out);
        }
        self.handler.turn_done(id);
        // Drained (the last recv found the pipe empty and told libzmq so): the next arrival
        // signals the descriptor again, no need to ask `ZMQ_EVENTS` (a system call).
        source.queued = more;
        more
    }
}

#[cfg(test)]
mod tests;
