//! `logs --to DIR`: lines appended to `DIR/<node>/<watcher>.<stream>.log`, one file per node,
//! watcher and stream, and a run that resumes where the last one stopped.
//!
//! Beside each file, `.<watcher>.<stream>.resume` holds the time of the last line written and
//! how many lines of that very time were written (an agent stamps every line of one read with
//! the same time). A new run asks the history since the oldest of those times and skips what
//! the files already have, so a second run writes no line twice.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{Line, LogsArgs, Sink};
use crate::error::CtlError;

/// Where a file stands: the last time written and the lines written at it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Mark {
    time: f64,
    count: u64,
}

/// One open output file and its mark.
struct Target {
    file: File,
    resume: PathBuf,
    mark: Option<Mark>,
    /// Lines at exactly `mark.time` met in this run (those up to `mark.count` were written
    /// before).
    met_at_mark: u64,
    changed: bool,
}

/// The download directory of one run.
pub struct Download {
    dir: PathBuf,
    watcher: String,
    targets: HashMap<(String, String), Target>,
}

impl Download {
    /// Opens the files of every node and stream, reads their marks, and makes `request` ask for
    /// the history since the oldest mark (everything the agents keep when `-n` is not given).
    ///
    /// # Errors
    /// The directory or a file cannot be created.
    pub fn open(dir: &Path, nodes: &[String], args: &LogsArgs, request: &mut Value) -> Result<Self, CtlError> {
        let watcher = args.watcher.clone().unwrap_or_default();
        let mut download = Download { dir: dir.to_path_buf(), watcher, targets: HashMap::new() };
        let streams: Vec<&str> = match &args.stream {
            Some(stream) => vec![stream.as_str()],
            None => vec!["stdout", "stderr"],
        };
        for node in nodes {
            for stream in &streams {
                download.target(node, stream)?;
            }
        }
        if args.lines.is_none() {
            request["lines"] = 10_000.into();
        }
        let oldest = download.targets.values().filter_map(|t| t.mark.map(|m| m.time)).reduce(f64::min);
        if let Some(oldest) = oldest {
            let since = request.get("since").and_then(Value::as_f64).map_or(oldest, |since| since.max(oldest));
            request["since"] = since.into();
        }
        Ok(download)
    }

    /// The file of `node` and `stream`, opened (and its mark read) on first use.
    fn target(&mut self, node: &str, stream: &str) -> Result<&mut Target, CtlError> {
        let key = (node.to_string(), stream.to_string());
        if !self.targets.contains_key(&key) {
            let dir = self.dir.join(node);
            std::fs::create_dir_all(&dir)?;
            let path = dir.join(format!("{}.{stream}.log", self.watcher));
            let file = OpenOptions::new().create(true).append(true).open(&path)?;
            let resume = dir.join(format!(".{}.{stream}.resume", self.watcher));
            let mark = std::fs::read_to_string(&resume).ok().and_then(|text| parse_mark(&text));
            self.targets.insert(key.clone(), Target { file, resume, mark, met_at_mark: 0, changed: false });
        }
        Ok(self.targets.get_mut(&key).expect("inserted above"))
    }
}

impl Sink for Download {
    fn take(&mut self, lines: &[Line]) -> Result<(), CtlError> {
        for line in lines {
            let target = self.target(line.text("node"), line.text("stream"))?;
            let time = line.time();
            if let Some(mark) = target.mark {
                if time < mark.time {
                    continue;
                }
                if time == mark.time {
                    target.met_at_mark += 1;
                    if target.met_at_mark <= mark.count {
                        continue;
                    }
                }
            }
            writeln!(target.file, "{}", line.text("line"))?;
            target.mark = Some(match target.mark {
                Some(mark) if mark.time == time => Mark { time, count: mark.count + 1 },
                _ => Mark { time, count: 1 },
            });
            target.met_at_mark = target.mark.map_or(0, |mark| mark.count);
            target.changed = true;
        }
        // Marks are written after the lines: a crash in between repeats lines, never loses one.
        for target in self.targets.values_mut().filter(|t| t.changed) {
            target.file.flush()?;
            if let Some(mark) = target.mark {
                std::fs::write(&target.resume, format!("{} {}\n", mark.time, mark.count))?;
            }
            target.changed = false;
        }
        Ok(())
    }
}

fn parse_mark(text: &str) -> Option<Mark> {
    let mut words = text.split_whitespace();
    Some(Mark { time: words.next()?.parse().ok()?, count: words.next()?.parse().ok()? })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn line(node: &str, time: f64, text: &str) -> Line {
        let value = json!({"node": node, "watcher": "w", "stream": "stdout", "pid": 1, "time": time, "line": text});
        Line(value.as_object().cloned().unwrap())
    }

    #[test]
    fn a_second_run_appends_only_what_the_first_did_not_write() {
        let dir = std::env::temp_dir().join(format!("clusterctl-download-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let args = LogsArgs {
            watcher: Some("w".into()),
            lines: None,
            since: None,
            follow: false,
            stream: None,
            to: Some(dir.clone()),
        };
        let nodes = ["a".to_string()];
        let mut request = json!({});
        let mut first = Download::open(&dir, &nodes, &args, &mut request).unwrap();
        assert_eq!(request, json!({"lines": 10_000}));
        first.take(&[line("a", 1.0, "one"), line("a", 2.0, "two"), line("a", 2.0, "three")]).unwrap();
        drop(first);
        let mut request = json!({});
        let mut second = Download::open(&dir, &nodes, &args, &mut request).unwrap();
        assert_eq!(request["since"], json!(2.0));
        second
            .take(&[line("a", 2.0, "two"), line("a", 2.0, "three"), line("a", 2.0, "four"), line("a", 3.0, "five")])
            .unwrap();
        let text = std::fs::read_to_string(dir.join("a/w.stdout.log")).unwrap();
        assert_eq!(text, "one\ntwo\nthree\nfour\nfive\n");
    }
}
