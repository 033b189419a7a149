//! `clusterctl top`: a live view of a master's merged stats stream (or of one circusd's),
//! processes grouped by node and watcher, with the master's node states.
//!
//! * [`conn`]: the stats SUB and the `nodes` poller, on background threads, feeding a channel;
//! * [`decode`]: stats messages and `nodes` replies into plain values;
//! * [`model`]: what is known, aged by the caller's clock; no drawing;
//! * [`view`]: ratatui widgets; no I/O;
//! * [`input`]: key → action;
//! * [`term`]: raw mode and the alternate screen, restored on drop and on panic.
//!
//! [`run`] is the loop: wait for a key a short while, drain the channel into the model, draw.

pub mod conn;
pub mod decode;
pub mod input;
pub mod model;
pub mod term;
pub mod view;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{self, Event};

use self::conn::{Connection, Update};
use self::input::Action;
use self::model::{Model, Sort};
use self::term::Term;
use self::view::{Screen, ViewState};
use crate::error::CtlError;

/// The master's merged stats stream.
pub const DEFAULT_STATS_ENDPOINT: &str = "tcp://127.0.0.1:5559";

/// How long the loop waits for a key before looking at the channel again.
const TICK: Duration = Duration::from_millis(200);

/// At most this many messages go into the model between two frames, so a flood cannot starve
/// the keyboard.
const DRAIN_LIMIT: usize = 10_000;

/// `top` arguments (`--endpoint`, the master's command endpoint, and `--node` are global options).
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "\
Shows every process of the cluster, grouped by node then watcher, refreshed as the stats stream
publishes (about once a second). Each node header shows the node's state as the master reports
it (alive, suspect, down; ? when unknown), a watcher header its watcher's totals. Totals add up
CPU % and MEM % and show the oldest AGE. A node the master knows but that sends no stats is
listed with its state and \"no stats\".

--endpoint is the master's command endpoint, as for every command [env: CLUSTERCTL_ENDPOINT]
[default: tcp://127.0.0.1:5558]: top asks its globaloptions for the merged stats_endpoint and
polls its nodes every 2 s. --stats-endpoint reads another stats stream instead (a circusd's,
from its circusd-stats, statsd = True, to watch one node). --node SET shows only those nodes.

Keys: c / m / n  sort by CPU, memory, name      Up/Down, PgUp/PgDn, Home/End  scroll
      q, Esc, Ctrl-C  quit

Examples:
  clusterctl top
  clusterctl top --node @eu
  clusterctl top --stats-endpoint tcp://127.0.0.1:5557 --process-timeout 10")]
pub struct TopArgs {
    /// The stats stream to read instead of the one the master's globaloptions names (node
    /// states are still polled from --endpoint; failures there just show `?`)
    #[arg(long = "stats-endpoint", value_name = "ENDPOINT")]
    pub stats_endpoint: Option<String>,
    /// Drop a process after this many seconds without stats (watchers and nodes left empty go
    /// too)
    #[arg(long, value_name = "SECS", default_value = "3", value_parser = crate::duration::parse_timeout)]
    pub process_timeout: Duration,
}

/// Where `top` connects and how long processes live.
#[derive(Debug, Clone)]
pub struct Config {
    /// The stats PUB endpoint.
    pub stats: String,
    /// The master's command endpoint to poll for node states.
    pub master: Option<String>,
    /// Only these nodes are shown (`--node`); every node when `None`.
    pub nodes: Option<Vec<String>>,
    /// `--process-timeout`.
    pub process_timeout: Duration,
}

/// Runs the viewer until a quit key (or SIGINT, SIGTERM, SIGHUP); the terminal is restored on
/// every way out.
///
/// # Errors
/// A malformed endpoint (reported before the screen changes), stdout not being a terminal, or a
/// terminal I/O failure.
pub fn run(config: &Config) -> Result<(), CtlError> {
    let conn = conn::start(&config.stats, config.master.as_deref())?;
    let quit = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM, signal_hook::consts::SIGHUP] {
        // Unregistered, the signal's default action still ends us; only the restore is lost.
        let _ = signal_hook::flag::register(signal, Arc::clone(&quit));
    }
    let mut term = Term::enter()?;
    let mut app = App { model: Model::new(config.process_timeout), sort: Sort::default(), view: ViewState::default() };
    let mut failure = None;
    while !quit.load(Ordering::Relaxed) {
        let now = Instant::now();
        if let Some(reason) = drain(&conn, &mut app.model, config.nodes.as_deref(), now) {
            failure = Some(reason);
        }
        app.model.expire(now);
        let screen = Screen { model: &app.model, sort: app.sort, endpoint: &config.stats, failure: failure.as_deref() };
        term.screen.draw(|frame| view::render(frame, &screen, &mut app.view))?;
        // A resize needs nothing but the redraw above: ratatui re-reads the size on each draw.
        if event::poll(TICK)? {
            if let Event::Key(key) = event::read()? {
                if let Some(action) = input::action(key) {
                    if app.act(action) {
                        break;
                    }
                }
            }
        }
    }
    Ok(())
}

/// The loop's state besides the terminal.
struct App {
    /// What is known.
    model: Model,
    /// The active sort.
    sort: Sort,
    /// Scroll position and page size.
    view: ViewState,
}

impl App {
    /// Applies a key's action; returns `true` to quit. Scrolling past the end is clamped by the
    /// next render.
    fn act(&mut self, action: Action) -> bool {
        let view = &mut self.view;
        let page = view.page.max(1);
        match action {
            Action::Quit => return true,
            Action::Sort(sort) => self.sort = sort,
            Action::Up => view.scroll = view.scroll.saturating_sub(1),
            Action::Down => view.scroll = view.scroll.saturating_add(1),
            Action::PageUp => view.scroll = view.scroll.saturating_sub(page),
            Action::PageDown => view.scroll = view.scroll.saturating_add(page),
            Action::Top => view.scroll = 0,
            Action::Bottom => view.scroll = usize::MAX,
        }
        false
    }
}

/// Moves what the threads sent into the model, only what concerns `nodes` when given; returns
/// why the stats stream failed, if it did.
fn drain(conn: &Connection, model: &mut Model, nodes: Option<&[String]>, now: Instant) -> Option<String> {
    let mut failure = None;
    for update in conn.updates.try_iter().take(DRAIN_LIMIT) {
        match update {
            Update::Stat(topic, payload) => {
                if nodes.is_none_or(|nodes| decode::stat_node(&topic, &payload).is_some_and(|n| nodes.contains(&n))) {
                    model.apply(&topic, &payload, now);
                }
            }
            Update::Nodes(states) => model.set_node_states(
                states
                    .map(|states| states.into_iter().filter(|(n, _)| nodes.is_none_or(|ns| ns.contains(n))).collect()),
            ),
            Update::Failed(reason) => failure = Some(reason),
        }
    }
    failure
}
