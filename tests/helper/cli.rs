//! Running the command-line clients: stock `circusctl` and Python from the venv, and
//! `clusterctl` from the workspace.

use std::ffi::OsStr;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::{paths, procs};

/// What a finished command left: its exit code and output.
#[derive(Debug, Clone)]
pub struct Run {
    /// Exit code (`-1` when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// stdout parsed as JSON.
    ///
    /// # Panics
    /// When stdout is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }

    /// Asserts exit code 0 and returns stdout.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "expected success: {self:?}");
        &self.stdout
    }

    /// True when stdout or stderr reports circusd's transient arbiter lock.
    pub fn busy(&self) -> bool {
        crate::busy_text(&self.stdout) || crate::busy_text(&self.stderr)
    }
}

/// Runs `program` with `args`, killing it after 60 s.
pub fn run<I, S>(program: &std::path::Path, args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = Command::new(program);
    command.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let described = format!("{command:?}");
    let mut child = procs::spawn(&mut command);
    // Read both pipes on threads so that a chatty child never blocks on a full pipe.
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut out, &mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut s);
        s
    });
    if !procs::wait_exit(&mut child, Duration::from_secs(60)) {
        procs::terminate(&mut child, Duration::from_secs(1));
        panic!("{described} still running after 60 s");
    }
    let code = child.wait().expect("wait").code().unwrap_or(-1);
    Run { code, stdout: out.join().unwrap_or_default(), stderr: err.join().unwrap_or_default() }
}

/// Stock `circusctl --endpoint <endpoint> --timeout 10 <args>`.
pub fn circusctl(endpoint: &str, args: &[&str]) -> Run {
    let mut all = vec!["--endpoint", endpoint, "--timeout", "10"];
    all.extend_from_slice(args);
    run(&paths::venv_bin("circusctl"), all)
}

/// [`circusctl`], repeated while circusd reports its transient arbiter lock.
pub fn circusctl_retry(endpoint: &str, args: &[&str]) -> Run {
    crate::retry_busy(|| circusctl(endpoint, args), Run::busy)
}

/// `clusterctl <args>` (no implicit options: tests pass `--endpoint` themselves).
pub fn clusterctl(args: &[&str]) -> Run {
    run(&paths::workspace_bin("clusterctl"), args)
}

/// Runs a Python snippet with the venv's interpreter; the snippet prints one JSON document,
/// which is returned parsed. `from circus.client import CircusClient` is already done, and
/// `json` is imported.
///
/// # Panics
/// When Python fails or prints something else than JSON.
pub fn python(snippet: &str) -> Value {
    let code = format!("import json\nfrom circus.client import CircusClient\n{snippet}\n");
    let run = run(&paths::venv_bin("python"), ["-c", code.as_str()]);
    assert_eq!(run.code, 0, "python failed: {}\n{snippet}", run.stderr);
    let last = run.stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("python printed no JSON ({e}): {run:?}"))
}

/// One `CircusClient(endpoint).call(request)` from Python, returning the reply.
pub fn circus_client_call(endpoint: &str, request: &Value) -> Value {
    python(&format!(
        "c = CircusClient(endpoint={endpoint:?}, timeout=10)\ntry:\n    print(json.dumps(c.call({request})))\nfinally:\n    c.stop()",
        request = py_literal(request)
    ))
}

/// A JSON value as a Python literal (`true` → `True`, `null` → `None`), through `json.loads`.
pub fn py_literal(value: &Value) -> String {
    format!("json.loads({:?})", value.to_string())
}
