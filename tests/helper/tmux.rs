//! A terminal program (stock circus-top) in a detached tmux session, read with `capture-pane`.
//!
//! Each [`Tmux`] has its own tmux server (`-S <socket in its temp dir>`, no user config), so
//! tests never share one and no socket file is left behind. The server carries the test's tag
//! like every other daemon: dropping the guard (also while panicking) kills the server and sweeps
//! what it ran, and `scripts/check-leaks.sh` catches it if the test process itself was killed.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use tempfile::TempDir;

use crate::{procs, wait_for};

/// Width and height of the virtual terminal.
const SIZE: (&str, &str) = ("150", "60");

/// A detached tmux session running one command; killed with its server on drop.
pub struct Tmux {
    socket: PathBuf,
    session: String,
    tag: String,
    dir: TempDir,
}

impl Tmux {
    /// Starts `command` (run by `sh -c`, so redirections work) in a new session named after
    /// `name`; `{dir}` in it becomes [`Tmux::dir`]. The pane stays after the command exits, so its
    /// last screen can still be read.
    ///
    /// # Panics
    /// When tmux is missing or refuses to start.
    pub fn start(name: &str, command: &str) -> Tmux {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = tempfile::Builder::new().prefix(&format!("e2e-tmux-{name}-")).tempdir().expect("tempdir");
        let tag = procs::tag(&format!("tmux-{name}"), dir.path());
        let session = format!("e2e-{}-{name}-{n}", std::process::id());
        let tmux = Tmux { socket: dir.path().join("tmux.sock"), session, tag, dir };
        let conf = tmux.dir.path().join("tmux.conf");
        std::fs::write(&conf, "set -g remain-on-exit on\nset -g history-limit 0\n").expect("tmux.conf");
        let tag_var = format!("{}={}", procs::TAG_VAR, tmux.tag);
        let command = command.replace("{dir}", tmux.dir.path().to_str().expect("utf-8 path"));
        let out = tmux.run(&[
            "-f",
            conf.to_str().expect("utf-8 path"),
            "new-session",
            "-d",
            "-s",
            &tmux.session,
            "-x",
            SIZE.0,
            "-y",
            SIZE.1,
            "-e",
            &tag_var,
            &command,
        ]);
        assert!(out.status.success(), "tmux new-session failed: {}", String::from_utf8_lossy(&out.stderr));
        tmux
    }

    /// A scratch directory that lives as long as the session (for stderr files and the like).
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .env(procs::TAG_VAR, &self.tag)
            .env("TERM", "xterm-256color")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run tmux (install it: scripts/system-deps.sh): {e}"))
    }

    /// Types `keys` into the pane (tmux key names: `q`, `Down`, `C-c`).
    pub fn send_keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", self.session.as_str()];
        args.extend_from_slice(keys);
        let out = self.run(&args);
        assert!(out.status.success(), "tmux send-keys failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// The exit status of the pane's command once it has exited, `None` while it runs.
    ///
    /// tmux learns the status from SIGCHLD, and a tmux built with libutempter loses that signal
    /// when the command ends while the utempter helper runs (SIGCHLD is `SIG_DFL` meanwhile:
    /// tmux/tmux#311, #4559): the pane is then dead with no status, its command an unreaped
    /// zombie, for good. tmux reaps every exited child on any SIGCHLD, so one more is sent.
    pub fn exit_status(&self) -> Option<i32> {
        let out = self.run(&["display-message", "-p", "-t", &self.session, "#{pane_dead} #{pid} #{pane_dead_status}"]);
        let text = String::from_utf8_lossy(&out.stdout);
        let fields: Vec<&str> = text.split_whitespace().collect();
        match fields[..] {
            ["1", _, status] => status.parse().ok(),
            ["1", server] => {
                if let Ok(server) = server.parse() {
                    procs::signal(server, libc::SIGCHLD);
                }
                None
            }
            _ => None,
        }
    }

    /// The visible screen, as text.
    pub fn screen(&self) -> String {
        let out = self.run(&["capture-pane", "-p", "-t", &self.session]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Polls the screen until `check` accepts it, and returns it.
    ///
    /// # Panics
    /// After the global timeout, with the last screen and `check`'s last complaint.
    #[track_caller]
    pub fn wait_screen(&self, what: &str, mut check: impl FnMut(&str) -> Result<(), String>) -> String {
        wait_for(what, || {
            let screen = self.screen();
            check(&screen).map(|()| screen.clone()).map_err(|why| format!("{why}; screen:\n{screen}"))
        })
    }
}

/// `Ok` when `screen` shows every one of `wanted`, else which are missing (for
/// [`Tmux::wait_screen`]).
pub fn shows_all(screen: &str, wanted: &[String]) -> Result<(), String> {
    let missing: Vec<&String> = wanted.iter().filter(|w| !screen.contains(w.as_str())).collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("missing {missing:?}"))
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
        procs::sweep(&[], &self.tag);
    }
}
