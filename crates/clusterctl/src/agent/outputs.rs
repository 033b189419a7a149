//! Which files hold each watcher's output: `stdout_stream.*`/`stderr_stream.*` with a file
//! class (`FileStream`, `TimedRotatingFileStream`, `WatchedFileStream`, by their short or
//! `circus.stream.` name) and a `filename`. Read from the worker ini at start, then from circusd
//! (`list`, `options` per watcher: `stdout_stream_conf`/`stderr_stream_conf`), which also knows
//! watchers added later. A relative `filename` is circusd's: relative to the directory the agent
//! was started in, which for a watcher of circusd is circusd's own.

use std::path::PathBuf;

use ini::{Ini, ParseOption};
use serde_json::Value;

/// `stdout` or `stderr`.
pub const STREAMS: [&str; 2] = ["stdout", "stderr"];

/// The stream classes that write a file.
const FILE_CLASSES: [&str; 3] = ["FileStream", "TimedRotatingFileStream", "WatchedFileStream"];

/// One output file of one watcher.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Output {
    /// The watcher's name.
    pub watcher: String,
    /// `stdout` or `stderr`.
    pub stream: &'static str,
    /// The file circusd writes.
    pub path: PathBuf,
}

/// The output files named by the `[watcher:NAME]` sections of a worker ini.
pub fn from_ini(text: &str) -> Vec<Output> {
    let options = ParseOption {
        enabled_quote: false,
        enabled_escape: false,
        enabled_indented_mutiline_value: true,
        enabled_preserve_key_leading_whitespace: false,
    };
    let Ok(ini) = Ini::load_from_str_opt(text, options) else { return Vec::new() };
    let mut found = Vec::new();
    for (section, props) in ini.iter() {
        let Some(watcher) = section.and_then(|s| s.strip_prefix("watcher:")) else { continue };
        for stream in STREAMS {
            let get = |key: &str| props.get(format!("{stream}_stream.{key}")).map(|v| v.trim().to_string());
            if let Some(output) = output(watcher, stream, get("class").as_deref(), get("filename").as_deref()) {
                found.push(output);
            }
        }
    }
    found
}

/// The output files of `watcher` from its circusd `options` reply.
pub fn from_options(watcher: &str, options: &Value) -> Vec<Output> {
    STREAMS
        .into_iter()
        .filter_map(|stream| {
            let conf = options.get(format!("{stream}_stream_conf"))?;
            output(watcher, stream, conf.get("class").and_then(Value::as_str), conf.get("filename")?.as_str())
        })
        .collect()
}

/// A file output: a file class, or no class but a filename (circus's `get_stream` makes that a
/// FileStream; and a watcher given a stream with `add` reports its conf without `class`, which
/// circus popped from it).
fn output(watcher: &str, stream: &'static str, class: Option<&str>, filename: Option<&str>) -> Option<Output> {
    let class = class.unwrap_or("FileStream").rsplit('.').next()?;
    let filename = filename.filter(|f| !f.is_empty())?;
    FILE_CLASSES.contains(&class).then(|| Output { watcher: watcher.to_string(), stream, path: filename.into() })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn file_streams_of_the_ini_are_found_and_others_ignored() {
        let text = "[circus]\nnode = a\n\n[watcher:printer]\ncmd = x\nstdout_stream.class = FileStream\n\
                    stdout_stream.filename = /tmp/p.out\nstderr_stream.class = circus.stream.TimedRotatingFileStream\n\
                    stderr_stream.filename = p.err\n\n[watcher:quiet]\nstdout_stream.class = StdoutStream\n";
        let found = from_ini(text);
        assert_eq!(
            found,
            [
                Output { watcher: "printer".into(), stream: "stdout", path: "/tmp/p.out".into() },
                Output { watcher: "printer".into(), stream: "stderr", path: "p.err".into() },
            ]
        );
    }

    #[test]
    fn circusd_options_name_the_files_of_later_watchers() {
        let options = json!({"stdout_stream_conf": {"class": "WatchedFileStream", "filename": "/tmp/w.log"},
                             "stderr_stream_conf": {"class": "FileStream"}});
        assert_eq!(
            from_options("late", &options),
            [Output { watcher: "late".into(), stream: "stdout", path: "/tmp/w.log".into() }]
        );
        // What circusd reports for a watcher added with a FileStream: the class is gone.
        let added = json!({"stdout_stream_conf": {"filename": "run-x.stdout.log"},
                           "stderr_stream_conf": {"class": "StdoutStream"}});
        assert_eq!(
            from_options("run-x", &added),
            [Output { watcher: "run-x".into(), stream: "stdout", path: "run-x.stdout.log".into() }]
        );
    }
}
