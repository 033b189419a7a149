//! One simulated node: its sockets, its command loop and its simulated restarts.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use clusterd_protocol::connection::stream::StreamSender;
use clusterd_protocol::connection::{CommandServer, ConnectionError, Context};
use clusterd_protocol::Request;
use serde_json::json;

use crate::commands::{answer, Endpoints};
use crate::info::{event, stats_cycle, Message};
use crate::publish::{Control, Schedule};
use crate::watchers::Watchers;
use crate::{Counters, Options};

/// Why the simulation could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A node's endpoint could not be bound.
    #[error("node {node}: {source}")]
    Bind {
        /// The node's name.
        node: String,
        /// libzmq's refusal.
        source: ConnectionError,
    },
}

/// Messages a subscriber may queue at a simulated node before the node drops (circusd's PUB
/// keeps libzmq's default, 1,000; a benchmark wants drops to happen at the master, not here).
const SNDHWM: i32 = 100_000;

/// The node's two PUB sockets; `None` while the node is "down" in a simulated restart.
pub struct Streams {
    stats: StreamSender,
    events: StreamSender,
}

/// One simulated circusd.
pub struct Node {
    /// The node's name (`sim001`).
    pub name: String,
    /// Its endpoints, fixed at the first bind (restarts bind the same ones again).
    pub endpoints: Endpoints,
    state: Mutex<Watchers>,
    streams: Mutex<Option<Streams>>,
    /// The current stats cycle, rebuilt once a second or after a change.
    cycle: Mutex<(Instant, Vec<Message>)>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Node {
    /// Binds the node's three sockets: on `ports` when given, else on ports the system picks.
    ///
    /// # Errors
    /// A socket cannot be bound.
    pub fn bind(
        ctx: &Context,
        name: String,
        options: &Options,
        ports: Option<u16>,
    ) -> Result<(Arc<Node>, CommandServer), SimError> {
        let at = |offset: u16| match ports {
            Some(base) => format!("tcp://{}:{}", options.host, base + offset),
            None => format!("tcp://{}:*", options.host),
        };
        let wanted = Endpoints { endpoint: at(0), pubsub_endpoint: at(1), stats_endpoint: at(2) };
        let (server, streams) =
            bind_sockets(ctx, &wanted).map_err(|source| SimError::Bind { node: name.clone(), source })?;
        let endpoints = Endpoints {
            endpoint: server.bound_endpoint(),
            pubsub_endpoint: streams.events.bound_endpoint(),
            stats_endpoint: streams.stats.bound_endpoint(),
        };
        let state = Watchers::new(options.watchers, options.processes);
        let cycle = stats_cycle(&state);
        let node = Node {
            name,
            endpoints,
            state: Mutex::new(state),
            streams: Mutex::new(Some(streams)),
            cycle: Mutex::new((Instant::now(), cycle)),
        };
        Ok((Arc::new(node), server))
    }

    /// `{"name": ..., "endpoint": ..., "pubsub_endpoint": ..., "stats_endpoint": ...}`.
    pub fn manifest_line(&self) -> String {
        json!({
            "name": self.name,
            "endpoint": self.endpoints.endpoint,
            "pubsub_endpoint": self.endpoints.pubsub_endpoint,
            "stats_endpoint": self.endpoints.stats_endpoint,
        })
        .to_string()
    }

    /// Publishes one stats cycle; returns how many messages were handed to the socket.
    pub fn publish_stats(&self) -> u64 {
        let mut cycle = lock(&self.cycle);
        if cycle.0.elapsed() >= Duration::from_secs(1) {
            *cycle = (Instant::now(), stats_cycle(&lock(&self.state)));
        }
        let streams = lock(&self.streams);
        let Some(streams) = streams.as_ref() else { return 0 };
        cycle.1.iter().filter(|(topic, payload)| streams.stats.send(topic, payload).is_ok()).count() as u64
    }

    fn publish_events(&self, events: &[Message], counters: &Counters) {
        if let Some(streams) = lock(&self.streams).as_ref() {
            let sent = events.iter().filter(|(topic, payload)| streams.events.send(topic, payload).is_ok()).count();
            counters.events.fetch_add(sent as u64, Ordering::Relaxed);
        }
    }

    fn changed(&self) {
        let fresh = stats_cycle(&lock(&self.state));
        *lock(&self.cycle) = (Instant::now(), fresh);
    }
}

fn bind_sockets(ctx: &Context, at: &Endpoints) -> Result<(CommandServer, Streams), ConnectionError> {
    let server = CommandServer::bind(ctx, &at.endpoint)?;
    let events = StreamSender::bind(ctx, &at.pubsub_endpoint, SNDHWM)?;
    let stats = StreamSender::bind(ctx, &at.stats_endpoint, SNDHWM)?;
    Ok((server, Streams { stats, events }))
}

/// When a node "restarts": exponential intervals of mean `mean`, from its own seed, none
/// after `until`.
pub struct Restarts {
    mean: Duration,
    downtime: Duration,
    rng: fastrand::Rng,
    until: Option<tokio::time::Instant>,
}

impl Restarts {
    /// A schedule with its own seed.
    pub fn new(mean: Duration, downtime: Duration, seed: u64, until: Option<tokio::time::Instant>) -> Self {
        Restarts { mean, downtime, rng: fastrand::Rng::with_seed(seed), until }
    }

    /// When the next restart begins, if there is one.
    fn next(&mut self) -> Option<tokio::time::Instant> {
        let u = self.rng.f64();
        let at = tokio::time::Instant::now() + self.mean.mul_f64(-(1.0 - u).ln()).max(Duration::from_millis(10));
        self.until.is_none_or(|until| at <= until).then_some(at)
    }
}

/// What every node of the process shares.
pub struct Shared {
    /// Publication and request counters.
    pub counters: Arc<Counters>,
    /// The stats schedule, which the `simnode` command may replace.
    pub control: Arc<Control>,
    /// How many nodes the process hosts.
    pub total: usize,
}

/// Answers the node's requests until the process ends, restarting it now and then.
pub async fn serve(
    node: Arc<Node>,
    ctx: Context,
    mut server: CommandServer,
    mut restarts: Option<Restarts>,
    shared: Shared,
) {
    let mut next_restart = restarts.as_mut().and_then(Restarts::next);
    loop {
        let restart_at = async {
            match next_restart {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            frames = server.recv() => match frames {
                Ok(frames) => handle(&node, &server, frames, &shared),
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            () = restart_at => {
                let Some(schedule) = restarts.as_mut() else { continue };
                server = restart(&node, &ctx, server, schedule.downtime, &shared.counters).await;
                shared.counters.restarts.fetch_add(1, Ordering::Relaxed);
                next_restart = schedule.next();
            }
        }
    }
}

fn handle(node: &Node, server: &CommandServer, mut frames: Vec<Vec<u8>>, shared: &Shared) {
    let counters = &shared.counters;
    if frames.len() < 2 {
        return;
    }
    let identity = frames.remove(0);
    let body = frames.pop().unwrap_or_default();
    // circusd would ignore what cannot be decoded; an answer helps whoever benchmarks.
    let reply = match Request::decode(&body, 1 << 20) {
        Err(err) => err.reply(),
        Ok(request) => {
            let changes = matches!(request.command.as_str(), "incr" | "decr");
            if request.command == "simnode" {
                if let Some(schedule) = requested_schedule(&request) {
                    shared.control.set(schedule);
                }
            }
            // The process's counters, read only for the one command that reports them.
            let process = if request.command == "simnode" {
                let mut process = counters.to_json(shared.total);
                process["schedule"] = shared.control.describe();
                process
            } else {
                serde_json::Value::Null
            };
            let answered = answer(&mut lock(&node.state), &node.endpoints, process, request);
            node.publish_events(&answered.events, counters);
            if changes {
                node.changed();
            }
            answered.reply
        }
    };
    counters.requests.fetch_add(1, Ordering::Relaxed);
    let mut out: Vec<&[u8]> = vec![&identity];
    out.extend(frames.iter().map(Vec::as_slice));
    let body = reply.encode();
    out.push(&body);
    let _ = server.send(&out);
}

/// `simnode` with `interval_ms` (number) and/or `cycles` (number, or null for forever): a new
/// stats schedule for the whole process. Anything else leaves the schedule alone.
fn requested_schedule(request: &Request) -> Option<Schedule> {
    let properties = &request.properties;
    let interval = properties.get("interval_ms")?.as_f64().filter(|ms| *ms > 0.0)?;
    let cycles = properties.get("cycles").and_then(serde_json::Value::as_u64);
    Some(Schedule { interval: Duration::from_secs_f64(interval / 1000.0), cycles })
}

/// Closes the node's sockets, waits `downtime`, binds them again on the same ports with a new
/// circusd pid, and publishes the `spawn` events of its processes.
async fn restart(
    node: &Node,
    ctx: &Context,
    server: CommandServer,
    downtime: Duration,
    counters: &Counters,
) -> CommandServer {
    drop(server);
    *lock(&node.streams) = None;
    tokio::time::sleep(downtime).await;
    loop {
        match bind_sockets(ctx, &node.endpoints) {
            Ok((server, streams)) => {
                let events: Vec<Message> = {
                    let mut state = lock(&node.state);
                    state.restart();
                    state
                        .watchers
                        .iter()
                        .flat_map(|w| w.pids.iter().map(|&pid| event(&w.name, "spawn", Some(pid))))
                        .collect()
                };
                node.changed();
                *lock(&node.streams) = Some(streams);
                node.publish_events(&events, counters);
                return server;
            }
            // The port may still be held for a moment after the close: try again.
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}
