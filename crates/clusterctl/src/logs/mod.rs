//! `clusterctl logs [--node SET] [WATCHER] [-n N] [--since 10m] [-f] [--stream S] [--json]
//! [--to DIR]`: watcher output of every node (docs/logs.md).
//!
//! History comes from the master's `logs` command (asked of each node's agent); with `-f`, the
//! live lines come from the master's `logs_endpoint` (learnt from `globaloptions`), subscribed
//! to before the history is asked, so that nothing falls between the two; the live lines the
//! history already held are skipped ([`Seen`]). Ctrl-C ends `-f` with status 0. With `--to DIR`
//! the lines are appended to `DIR/<node>/<watcher>.<stream>.log` instead ([`download`]).

mod download;

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clusterd_protocol::connection::{Client, Subscriber};
use clusterd_protocol::Reply;
use serde_json::{json, Map, Value};

use crate::error::{exit, CtlError};
use crate::master::resolve_or_report;

/// `logs`.
#[derive(clap::Args, Debug, Clone)]
pub struct LogsArgs {
    /// Only this watcher's output
    #[arg(value_name = "WATCHER")]
    pub watcher: Option<String>,
    /// Lines of history per node (at most 10000; with --to, everything the agents keep)
    #[arg(short = 'n', long = "lines", value_name = "N", value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub lines: Option<u64>,
    /// Only lines of the last DURATION (10m, 1h30m)
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub since: Option<Duration>,
    /// Then print new lines as they come, until Ctrl-C
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Only this stream
    #[arg(long, value_parser = ["stdout", "stderr"])]
    pub stream: Option<String>,
    /// Append the lines to `DIR/<node>/<watcher>.<stream>.log`, resuming where the last run stopped
    #[arg(long, value_name = "DIR", requires = "watcher")]
    pub to: Option<PathBuf>,
}

/// One received line: `node`, `watcher`, `stream`, `pid`, `time`, `line`.
#[derive(Debug, Clone, PartialEq)]
pub struct Line(pub Map<String, Value>);

impl Line {
    fn text(&self, key: &str) -> &str {
        self.0.get(key).and_then(Value::as_str).unwrap_or_default()
    }

    fn time(&self) -> f64 {
        self.0.get("time").and_then(Value::as_f64).unwrap_or_default()
    }

    /// `node:watcher[pid] line` (the pid is `-` when the watcher has several processes).
    pub fn prefixed(&self, colour: Option<&str>) -> String {
        let pid = self.0.get("pid").and_then(Value::as_u64).map_or_else(|| "-".to_string(), |pid| pid.to_string());
        let prefix = format!("{}:{}[{pid}]", self.text("node"), self.text("watcher"));
        match colour {
            Some(code) => format!("\x1b[{code}m{prefix}\x1b[0m {}", self.text("line")),
            None => format!("{prefix} {}", self.text("line")),
        }
    }
}

/// Runs `logs` against the master behind `client`.
///
/// # Errors
/// No answer from the master, a socket failure or a closed output.
pub fn run(
    client: &Client,
    node: Option<&str>,
    args: &LogsArgs,
    json_out: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, CtlError> {
    let Some(nodes) = resolve_or_report(client, node.unwrap_or("all"), err)? else {
        return Ok(exit::ERROR_REPLY);
    };
    // Subscribed before the history is asked: a line written in between is in one or the other.
    let feed = match args.follow {
        true => match subscribe(client, &nodes, args, err)? {
            Some(feed) => Some(feed),
            None => return Ok(exit::ERROR_REPLY),
        },
        false => None,
    };
    let mut request = json!({"node": nodes.join(","), "lines": args.lines.unwrap_or(10)});
    if let Some(watcher) = &args.watcher {
        request["watcher"] = watcher.clone().into();
    }
    if let Some(stream) = &args.stream {
        request["stream"] = stream.clone().into();
    }
    if let Some(since) = args.since {
        request["since"] = (clusterd_protocol::message::now() - since.as_secs_f64()).into();
    }
    let mut sink: Box<dyn Sink + '_> = match &args.to {
        Some(dir) => Box::new(download::Download::open(dir, &nodes, args, &mut request)?),
        None => Box::new(Print { json: json_out, colours: colours(&nodes), out: &mut *out }),
    };
    let reply = client.call(&crate::commands::request("logs", request))?;
    let mut seen = Seen::default();
    let code = history(&reply, &mut *sink, &mut seen, err)?;
    let Some(feed) = feed else { return Ok(code) };
    if code == exit::ERROR_REPLY {
        // No node gave any line (no agent anywhere, say): there is nothing to follow either.
        return Ok(code);
    }
    follow(&feed, args, &mut *sink, &mut seen)?;
    Ok(exit::OK)
}

/// Where lines go: the terminal or the download directory.
trait Sink {
    /// Takes a batch of lines.
    fn take(&mut self, lines: &[Line]) -> Result<(), CtlError>;
}

/// Printing on stdout.
struct Print<'a> {
    json: bool,
    colours: HashMap<String, &'static str>,
    out: &'a mut dyn Write,
}

impl Sink for Print<'_> {
    fn take(&mut self, lines: &[Line]) -> Result<(), CtlError> {
        for line in lines {
            if self.json {
                writeln!(self.out, "{}", Value::Object(line.0.clone()))?;
            } else {
                writeln!(self.out, "{}", line.prefixed(self.colours.get(line.text("node")).copied()))?;
            }
        }
        self.out.flush()?;
        Ok(())
    }
}

/// One ANSI colour per node when stdout is a terminal (and `NO_COLOR` is unset).
fn colours(nodes: &[String]) -> HashMap<String, &'static str> {
    const PALETTE: [&str; 6] = ["36", "33", "35", "32", "34", "31"];
    if !std::io::stdout().is_terminal() || std::env::var_os("NO_COLOR").is_some() {
        return HashMap::new();
    }
    nodes.iter().enumerate().map(|(i, node)| (node.clone(), PALETTE[i % PALETTE.len()])).collect()
}

/// The lines the history gave, per node, watcher and stream: the last time and the texts at it,
/// so that live lines already printed are skipped.
#[derive(Default)]
struct Seen(HashMap<(String, String, String), (f64, Vec<String>)>);

impl Seen {
    fn key(line: &Line) -> (String, String, String) {
        (line.text("node").into(), line.text("watcher").into(), line.text("stream").into())
    }

    fn record(&mut self, line: &Line) {
        let entry = self.0.entry(Seen::key(line)).or_insert((f64::MIN, Vec::new()));
        if line.time() > entry.0 {
            *entry = (line.time(), Vec::new());
        }
        entry.1.push(line.text("line").to_string());
    }

    /// True for a live line the history held.
    fn already(&mut self, line: &Line) -> bool {
        let Some((time, texts)) = self.0.get_mut(&Seen::key(line)) else { return false };
        if line.time() < *time {
            return true;
        }
        if line.time() == *time {
            if let Some(at) = texts.iter().position(|text| text == line.text("line")) {
                texts.remove(at);
                return true;
            }
        }
        false
    }
}

/// Prints the `logs` reply: lines node by node, then the nodes that gave none on stderr.
fn history(reply: &Reply, sink: &mut dyn Sink, seen: &mut Seen, err: &mut dyn Write) -> Result<i32, CtlError> {
    if reply.is_error() {
        writeln!(err, "error: {}", reply.reason().unwrap_or("None"))?;
        return Ok(exit::ERROR_REPLY);
    }
    let logs = reply.0.get("logs").and_then(Value::as_object).cloned().unwrap_or_default();
    for lines in logs.values() {
        let lines: Vec<Line> =
            lines.as_array().into_iter().flatten().filter_map(|l| l.as_object().cloned().map(Line)).collect();
        lines.iter().for_each(|line| seen.record(line));
        sink.take(&lines)?;
    }
    let missing = reply.0.get("missing").and_then(Value::as_object);
    for (node, reason) in missing.into_iter().flatten() {
        writeln!(err, "{node}: {}", reason.as_str().unwrap_or_default())?;
    }
    if reply.0.get("truncated") == Some(&Value::Bool(true)) {
        writeln!(err, "(the reply was cut to its size limit: the oldest lines are missing)")?;
    }
    Ok(if missing.is_some_and(|m| !m.is_empty()) { exit::PARTIAL } else { exit::OK })
}

/// Subscribes to the master's `logs_endpoint` for `nodes` (and the watcher and stream).
fn subscribe(
    client: &Client,
    nodes: &[String],
    args: &LogsArgs,
    err: &mut dyn Write,
) -> Result<Option<Subscriber>, CtlError> {
    let reply = client.call(&crate::commands::request("globaloptions", json!({})))?;
    let endpoint = reply.0.get("options").and_then(|options| options.get("logs_endpoint")).and_then(Value::as_str);
    let Some(endpoint) = endpoint else {
        writeln!(err, "error: the master publishes no watcher output: -f needs [cluster] logs_endpoint")?;
        return Ok(None);
    };
    let topics: Vec<String> = nodes
        .iter()
        .map(|node| match (&args.watcher, &args.stream) {
            (Some(watcher), Some(stream)) => format!("log.{node}:{watcher}.{stream}"),
            (Some(watcher), None) => format!("log.{node}:{watcher}."),
            (None, _) => format!("log.{node}:"),
        })
        .collect();
    let feed = Subscriber::connect_with_hwm(endpoint, &topics, 0)?;
    // The master follows a node's agent once it sees the subscription: give it that moment.
    std::thread::sleep(Duration::from_millis(500));
    Ok(Some(feed))
}

/// Prints live lines until SIGINT or SIGTERM.
fn follow(feed: &Subscriber, args: &LogsArgs, sink: &mut dyn Sink, seen: &mut Seen) -> Result<(), CtlError> {
    let quit = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let _ = signal_hook::flag::register(signal, Arc::clone(&quit));
    }
    while !quit.load(Ordering::Relaxed) {
        let mut batch = Vec::new();
        let mut wait = Duration::from_millis(200);
        while let Some(frames) = feed.recv_timeout(wait)? {
            wait = Duration::ZERO;
            let Some(Ok(Value::Object(fields))) = frames.get(1).map(|p| serde_json::from_slice::<Value>(p)) else {
                continue;
            };
            let line = Line(fields);
            let stream_ok = args.stream.as_deref().is_none_or(|stream| line.text("stream") == stream);
            if stream_ok && !seen.already(&line) {
                batch.push(line);
            }
            if batch.len() >= 1000 {
                break;
            }
        }
        if !batch.is_empty() {
            sink.take(&batch)?;
        }
    }
    Ok(())
}
