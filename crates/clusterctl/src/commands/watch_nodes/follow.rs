//! Following the master: its merged event stream (learnt from `globaloptions`, as `listen`
//! does), subscribed to `cluster.` only, tells that membership may have changed; `nodes` says
//! what it is now. Events only wake the loop, so a lost one (ZeroMQ drops what a subscriber
//! misses while reconnecting) costs nothing but latency: every `--resync` the master is asked
//! anyway. When it stops answering, the file stays as it is (an unreachable master is not an
//! empty cluster); when it answers again, the stream is learnt and subscribed afresh.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clusterd_protocol::connection::{Client, ConnectionError, Subscriber};
use serde_json::json;

use super::model::{membership, Filter, Membership};
use super::{Sink, WatchNodesArgs};
use crate::commands::request;
use crate::endpoint::learn_streams;
use crate::error::{exit, CtlError};
use crate::master::Master;

/// The longest wait for an event before checking for a signal or a due rendering.
const SLICE: Duration = Duration::from_millis(250);
/// How soon an unanswering master is asked again.
const RETRY: Duration = Duration::from_secs(1);
/// A burst that never quiets down still renders after this many debounce periods, so that a
/// flapping node cannot hold the file back for ever.
const MAX_STRETCH: u32 = 5;

/// Asks `master` for `nodes` and filters the reply: `Ok(Err(reason))` for an error reply.
///
/// # Errors
/// No reply (a timeout or a transport failure).
pub fn query(master: &dyn Master, filter: &Filter) -> Result<Result<Membership, String>, ConnectionError> {
    let reply = master.call(&request("nodes", json!({})))?;
    Ok(membership(&reply, filter))
}

/// Events seen since the last rendering: render once they have been quiet for the debounce.
#[derive(Debug, Default)]
struct Burst {
    /// The first and the latest event of the burst; `None` when nothing is pending.
    span: Option<(Instant, Instant)>,
}

impl Burst {
    fn mark(&mut self, now: Instant) {
        self.span = Some((self.span.map_or(now, |(first, _)| first), now));
    }

    /// When the burst is due: `debounce` after its latest event, at most `MAX_STRETCH`
    /// debounces after its first.
    fn due(&self, debounce: Duration) -> Option<Instant> {
        self.span.map(|(first, latest)| (latest + debounce).min(first + debounce * MAX_STRETCH))
    }
}

/// The connection to the master, rebuilt after it stops answering.
struct MasterConnection<'a> {
    endpoint: &'a str,
    timeout: Duration,
    client: Client,
    /// The stream subscribed to, and the subscriber.
    stream: (String, Subscriber),
    /// False while the master does not answer.
    up: bool,
}

impl MasterConnection<'_> {
    /// Notes that the master does not answer (said once per outage) and starts a fresh client:
    /// the old DEALER would keep the unanswered requests queued, to deliver them in a burst when
    /// the master comes back.
    fn lost(&mut self, why: &ConnectionError, out_path: &str, err: &mut dyn Write) -> Result<(), CtlError> {
        if self.up {
            writeln!(err, "warning: master {} does not answer ({why}): {out_path} is kept as it is", self.endpoint)?;
            self.up = false;
        }
        self.client = Client::connect(self.endpoint, self.timeout)?;
        Ok(())
    }

    /// Learns the stream again; subscribes afresh after an outage or when it moved.
    fn resubscribe(&mut self, err: &mut dyn Write) -> Result<(), CtlError> {
        let pubsub = learn_streams(&self.client, self.endpoint)?.pubsub;
        if !self.up || pubsub != self.stream.0 {
            let subscriber = Subscriber::connect(&pubsub, &["cluster.".to_string()])?;
            if !self.up {
                writeln!(err, "master {} answers again: following {pubsub}", self.endpoint)?;
            }
            self.stream = (pubsub, subscriber);
            self.up = true;
        }
        Ok(())
    }
}

/// Renders at start, then follows the master until SIGINT or SIGTERM (status 0).
///
/// # Errors
/// No answer from the master at start, a socket failure, or a closed stdout.
pub fn follow(
    endpoint: &str,
    args: &WatchNodesArgs,
    timeout: Duration,
    filter: &Filter,
    sink: &mut Sink,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, CtlError> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // Without the handler the signal still stops us, only with another status.
        let _ = signal_hook::flag::register(signal, Arc::clone(&stop));
    }
    let client = Client::connect(endpoint, timeout)?;
    let pubsub = learn_streams(&client, endpoint)?.pubsub;
    // Subscribed before the first query, so that a change after it comes as an event (once
    // ZeroMQ has passed the subscription on; the next --resync catches one that came before).
    let subscriber = Subscriber::connect(&pubsub, &["cluster.".to_string()])?;
    let mut link = MasterConnection { endpoint, timeout, client, stream: (pubsub, subscriber), up: true };
    let first = match query(&link.client, filter)? {
        Ok(membership) => membership,
        Err(why) => {
            writeln!(err, "error: {why}")?;
            return Ok(exit::ERROR_REPLY);
        }
    };
    let code = sink.publish(&first, out, err)?;
    if code != exit::OK {
        return Ok(code);
    }
    let out_path = args.out.display().to_string();
    let mut burst = Burst::default();
    let mut next_check = Instant::now() + args.resync;
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        let wake = burst.due(args.debounce).unwrap_or(next_check).min(next_check);
        if let Some(_event) = link.stream.1.recv_timeout(wake.saturating_duration_since(now).min(SLICE))? {
            burst.mark(Instant::now());
        }
        let now = Instant::now();
        if burst.due(args.debounce).is_some_and(|due| now >= due) {
            burst = Burst::default();
            match query(&link.client, filter) {
                Ok(Ok(membership)) => {
                    sink.publish(&membership, out, err)?;
                }
                Ok(Err(why)) => writeln!(err, "warning: {why}")?,
                Err(why) => {
                    link.lost(&why, &out_path, err)?;
                    next_check = Instant::now() + RETRY;
                }
            }
        } else if now >= next_check {
            next_check = check(&mut link, filter, sink, &mut burst, (args.resync, &out_path), err)?;
        }
    }
    Ok(exit::OK)
}

/// The periodic check: is the master there (subscribe again if it was away), and does the
/// membership still render as the file? A difference is handled like an event, debounce
/// included. Returns when to check next.
///
/// # Errors
/// A socket failure or a closed stderr.
fn check(
    link: &mut MasterConnection<'_>,
    filter: &Filter,
    sink: &Sink,
    burst: &mut Burst,
    (resync, out_path): (Duration, &str),
    err: &mut dyn Write,
) -> Result<Instant, CtlError> {
    let answered = match link.resubscribe(err) {
        Ok(()) => query(&link.client, filter).map_err(CtlError::Transport),
        Err(failed) => Err(failed),
    };
    match answered {
        Ok(Ok(membership)) => {
            if sink.differs(&membership) {
                burst.mark(Instant::now());
            }
            return Ok(Instant::now() + resync);
        }
        Ok(Err(why)) => writeln!(err, "warning: {why}")?,
        // Something answered, but not as a master: say so, and ask again.
        Err(CtlError::NotMaster(why)) => writeln!(err, "warning: {why}")?,
        Err(CtlError::Transport(why)) => link.lost(&why, out_path, err)?,
        Err(other) => return Err(other),
    }
    Ok(Instant::now() + RETRY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_render_once_quiet_but_not_never() {
        let debounce = Duration::from_secs(2);
        let start = Instant::now();
        let mut burst = Burst::default();
        assert_eq!(burst.due(debounce), None);
        burst.mark(start);
        assert_eq!(burst.due(debounce), Some(start + debounce));
        // Each event pushes the rendering back...
        burst.mark(start + Duration::from_secs(1));
        assert_eq!(burst.due(debounce), Some(start + Duration::from_secs(3)));
        // ...but a burst that never ends renders after MAX_STRETCH debounces.
        burst.mark(start + Duration::from_secs(9));
        assert_eq!(burst.due(debounce), Some(start + debounce * MAX_STRETCH));
        // No debounce: due at once.
        assert_eq!(burst.due(Duration::ZERO), Some(start));
    }
}
