//! `watch-nodes`: membership for other programs (issue 17, seed 003's "Cluster Control"
//! handler). Renders `--template` over the nodes of `--node` and `--state` into `--out`, replaced
//! atomically, and runs `--exec` after each change of the file; `--once` renders and exits.
//!
//! * [`model`]: the master's `nodes` reply, filtered into what the template sees;
//! * [`template`]: loading, checking and rendering the template (minijinja);
//! * [`output`]: the atomic write and the `--exec` command;
//! * [`follow`]: the loop on the master's `cluster.*` events, with its debounce and resync.

mod follow;
pub mod model;
mod output;
pub mod template;

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clusterd_protocol::connection::Client;
use clusterd_protocol::{nodeset, pyjson};
use serde_json::json;

use crate::error::{exit, CtlError};
use crate::global_args::GlobalArgs;
use model::{Filter, Membership};
use template::Template;

/// `watch-nodes` arguments (`--endpoint`, `--node`, `--timeout` and `--json` are global).
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "\
The template (Jinja syntax, minijinja) sees `nodes`: the matching nodes sorted by name, each with
name, endpoint, host, port (none for ipc://), tags and state (alive, suspect, down). Undefined
names are errors; nothing is auto-escaped. A template that does not parse or render is refused
at start with its line number (status 2).

The file is rendered at start, then again after every cluster event (a node joined, left, or
changed state) once the events have been quiet for --debounce, and every --resync in case an
event was missed or the master restarted. It is replaced atomically (a temporary file renamed
over it), and only when its text changes; --exec then runs once (sh -c, with CLUSTERCTL_WATCH_OUT
and CLUSTERCTL_WATCH_NODES set; its stdout goes to stderr). One line per rendering on stdout,
one JSON object with --json. While the master does not answer, the file is kept as it is.
Ctrl-C or SIGTERM stops (status 0).

Example (seed 003: a load balancer that follows the cluster):
  clusterctl watch-nodes --node @web --state alive --template backends.cfg.j2 \\
      --out /etc/apache2/backends.cfg --exec 'apachectl graceful'
with backends.cfg.j2:
  {% for node in nodes %}BalancerMember http://{{ node.host }}:8080 route={{ node.name }}
  {% endfor %}")]
pub struct WatchNodesArgs {
    /// Only nodes in these states (comma-separated); every state when omitted
    #[arg(long, value_name = "STATES", value_delimiter = ',', value_parser = model::STATES)]
    pub state: Vec<String>,
    /// The template file (Jinja syntax)
    #[arg(long, value_name = "FILE")]
    pub template: PathBuf,
    /// The file to write
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// A shell command to run after each change of the file
    #[arg(long, value_name = "CMD")]
    pub exec: Option<String>,
    /// How long cluster events must be quiet before the file is rendered again (a burst of
    /// changes gives one rendering and one --exec)
    #[arg(long, value_name = "DURATION", default_value = "500ms", value_parser = parse_duration)]
    pub debounce: Duration,
    /// How often the master is asked even without events (a missed event, a restarted master)
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_resync)]
    pub resync: Duration,
    /// Render once (and run --exec) and exit, for a start-up script
    #[arg(long)]
    pub once: bool,
}

/// `2s`, `500ms`, `1m` (humantime), or a plain number of seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    if let Ok(seconds) = text.trim().parse::<f64>() {
        return Duration::try_from_secs_f64(seconds).map_err(|_| format!("'{text}' is not a valid duration"));
    }
    humantime::parse_duration(text.trim()).map_err(|e| format!("'{text}' is not a duration (2s, 500ms): {e}"))
}

/// The shortest `--resync`: below it the master would be asked without pause.
const MIN_RESYNC: Duration = Duration::from_millis(100);

/// `--resync`: a duration of at least [`MIN_RESYNC`].
fn parse_resync(text: &str) -> Result<Duration, String> {
    let resync = parse_duration(text)?;
    if resync < MIN_RESYNC {
        return Err(format!("'{text}' is below the shortest --resync, {}ms", MIN_RESYNC.as_millis()));
    }
    Ok(resync)
}

/// Runs `watch-nodes` against the master at `endpoint`.
///
/// # Errors
/// No answer from the master at start, a socket failure, or a closed stdout.
pub fn run(
    endpoint: &str,
    args: &WatchNodesArgs,
    global: &GlobalArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, CtlError> {
    let template = match Template::load(&args.template) {
        Ok(template) => template,
        Err(why) => return usage(err, &why),
    };
    let nodes = match global.node.as_deref().map(nodeset::parse).transpose() {
        Ok(nodes) => nodes,
        Err(why) => return usage(err, &format!("--node: {why}")),
    };
    let filter = Filter { nodes, states: args.state.clone() };
    let mut sink =
        Sink { template, out_path: args.out.clone(), exec: args.exec.clone(), json: global.json, last: None };
    if !args.once {
        return follow::follow(endpoint, args, global.timeout, &filter, &mut sink, out, err);
    }
    let client = Client::connect(endpoint, global.timeout)?;
    let membership = match follow::query(&client, &filter)? {
        Ok(membership) => membership,
        Err(why) => {
            writeln!(err, "error: {why}")?;
            return Ok(exit::ERROR_REPLY);
        }
    };
    sink.publish(&membership, out, err)
}

fn usage(err: &mut dyn Write, why: &str) -> Result<i32, CtlError> {
    writeln!(err, "error: {why}")?;
    Ok(exit::USAGE)
}

/// The template and where its renderings go; remembers the text last written.
pub struct Sink {
    template: Template,
    out_path: PathBuf,
    exec: Option<String>,
    json: bool,
    /// The text last written (none before the first rendering, which always writes).
    last: Option<String>,
}

impl Sink {
    /// True when `membership` would render differently from the file last written (or the
    /// rendering fails: [`Sink::publish`] then says why).
    fn differs(&self, membership: &Membership) -> bool {
        self.template.render(&membership.nodes).ok() != self.last
    }

    /// Renders `membership`; when the text differs from the last one written, writes it,
    /// runs `--exec` and prints one line. Status 0, or 1 when the file could not be written
    /// or the template failed (reported on `err`; the caller decides whether to go on).
    ///
    /// # Errors
    /// Writing to `out` or `err` failed.
    fn publish(&mut self, membership: &Membership, out: &mut dyn Write, err: &mut dyn Write) -> Result<i32, CtlError> {
        let written = self
            .template
            .render(&membership.nodes)
            .and_then(|text| output::write_atomically(&self.out_path, &text).map(|()| text));
        let text = match written {
            Ok(text) => text,
            Err(why) => {
                writeln!(err, "error: {why}")?;
                return Ok(exit::FAILURE);
            }
        };
        if self.last.as_ref() == Some(&text) {
            return Ok(exit::OK);
        }
        self.last = Some(text);
        let names: Vec<&str> = membership.nodes.iter().map(|n| n.name.as_str()).collect();
        let ran = self.exec.as_deref().map(|command| output::run_command(command, &self.out_path, &names));
        if let Some(Err(why)) = &ran {
            writeln!(err, "warning: {why}")?;
        }
        let line = if self.json {
            let exec = ran.map(|ran| ran.err().unwrap_or_else(|| "ok".into()));
            pyjson::dumps(
                &json!({ "out": self.out_path.display().to_string(), "nodes": names, "exec": exec, "note": membership.note }),
            )
        } else {
            let note = membership.note.as_ref().map_or(String::new(), |note| format!(" ({note})"));
            format!("wrote {}: {} nodes [{}]{note}", self.out_path.display(), names.len(), names.join(", "))
        };
        writeln!(out, "{line}")?;
        out.flush()?;
        Ok(exit::OK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_units_or_seconds() {
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("soon").unwrap_err().contains("'soon' is not a duration"));
        assert_eq!(parse_resync("100ms").unwrap(), MIN_RESYNC);
        assert_eq!(parse_resync("0").unwrap_err(), "'0' is below the shortest --resync, 100ms");
    }
}
