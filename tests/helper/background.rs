//! A client that runs until stopped (`circusctl listen`), its output read line by line.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use crate::{procs, TIMEOUT};

/// A running program whose stdout lines arrive on a channel; terminated on drop.
pub struct Background {
    child: Child,
    lines: Receiver<String>,
    stderr: std::thread::JoinHandle<String>,
    tag: String,
    described: String,
}

impl Background {
    /// Starts `program` with `args`. Python is made unbuffered, so that lines come when printed.
    ///
    /// # Panics
    /// When it cannot be started.
    pub fn spawn<S: AsRef<std::ffi::OsStr>>(program: &std::path::Path, args: &[S]) -> Background {
        let tag = format!("{}-background-{}", std::process::id(), uuid_ish());
        let mut command = Command::new(program);
        command
            .args(args)
            .env("PYTHONUNBUFFERED", "1")
            .env(procs::TAG_VAR, &tag)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let described = format!("{command:?}");
        let mut child = procs::spawn(&mut command);
        let stdout = child.stdout.take().expect("stdout");
        let mut stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        Background { child, lines, stderr, tag, described }
    }

    /// Reads stdout until a line satisfies `wanted` and returns it.
    ///
    /// # Panics
    /// After the global timeout or when the program exits first, with what it printed.
    #[track_caller]
    pub fn wait_line(&mut self, what: &str, mut wanted: impl FnMut(&str) -> bool) -> String {
        let deadline = Instant::now() + TIMEOUT;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left.min(Duration::from_millis(200))) {
                Ok(line) if wanted(&line) => return line,
                Ok(line) => seen.push(line),
                Err(_) if Instant::now() >= deadline || self.exited() => {
                    let exited = self.exited();
                    let tail: Vec<&String> = seen.iter().rev().take(20).collect();
                    panic!("{} never printed {what} (exited: {exited}); last lines: {tail:?}", self.described)
                }
                Err(_) => {}
            }
        }
    }

    /// The next stdout line printed before `deadline`, if any.
    pub fn line_before(&self, deadline: Instant) -> Option<String> {
        self.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())).ok()
    }

    /// True once the program has exited.
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Sends SIGINT (Ctrl-C) and waits for the exit status (`None`: killed by a signal, or still
    /// running after the global timeout, then terminated).
    pub fn interrupt(mut self) -> Option<i32> {
        procs::signal(self.child.id(), libc::SIGINT);
        let deadline = Instant::now() + TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Stops it and returns its stderr.
    pub fn stop(mut self) -> String {
        self.terminate();
        let handle = std::mem::replace(&mut self.stderr, std::thread::spawn(String::new));
        handle.join().unwrap_or_default()
    }

    fn terminate(&mut self) {
        procs::terminate(&mut self.child, Duration::from_secs(5));
        procs::sweep(&[], &self.tag);
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// A process-unique suffix.
fn uuid_ish() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
