//! A worker circusd's ini, as an operator writes it to join a master with `clusterctl join`
//! (docs/operations.md, "Workers that join by themselves").

use crate::paths;

/// A worker ini template for [`crate::CircusNode::start_from_template`]: `[circus]` with `node`,
/// `master` (an endpoint) and, when given, `secret` (the master's `register_secret`); one `sleep`
/// watcher named `work` and the `cluster-join` watcher, which runs the built clusterctl on this
/// very ini (`{ini}`).
pub fn worker_ini(name: &str, master: &str, secret: Option<&str>) -> String {
    let secret = secret.map(|secret| format!("secret = {secret}\n")).unwrap_or_default();
    format!(
        "[circus]\nendpoint = {{endpoint}}\npubsub_endpoint = {{pubsub_endpoint}}\n\
         stats_endpoint = {{stats_endpoint}}\nstatsd = True\nmulticast_endpoint =\ncheck_delay = 10\n\
         warmup_delay = 0\nnode = {name}\nmaster = {master}\n{secret}\n\
         [watcher:work]\ncmd = sleep 3600\nnumprocesses = 1\ncopy_env = True\ngraceful_timeout = 2\n\n\
         [watcher:cluster-join]\ncmd = {clusterctl} join {{ini}}\ncopy_env = True\ngraceful_timeout = 5\n",
        clusterctl = paths::workspace_bin("clusterctl").display()
    )
}

/// A shell loop printing `line N` (N = 1, 2, ...) on stdout and `err N` on stderr every 0.2 s.
pub const PRINTER: &str =
    "sh -c 'n=0; while true; do n=$((n+1)); echo \"line $n\"; echo \"err $n\" >&2; sleep 0.2; done'";

/// The `printer` watcher's stdout in a FileStream, `printer.out` in circusd's folder.
pub const FILE_STREAM: &str = "stdout_stream.class = FileStream\nstdout_stream.filename = printer.out\n";

/// A worker ini like [`worker_ini`] with a log agent: `logs_endpoint` in `[circus]`, and a
/// `printer` watcher running `cmd` with its stdout as `stdout_stream` says (`stdout_stream.*`
/// lines, e.g. [`FILE_STREAM`]) and its stderr in a FileStream `printer.err`.
pub fn logging_worker_ini(name: &str, master: &str, logs_endpoint: &str, cmd: &str, stdout_stream: &str) -> String {
    let base = worker_ini(name, master, None);
    base.replacen("[circus]\n", &format!("[circus]\nlogs_endpoint = {logs_endpoint}\n"), 1)
        + &format!(
            "\n[watcher:printer]\ncmd = {cmd}\nnumprocesses = 1\ncopy_env = True\n{stdout_stream}\
             stderr_stream.class = FileStream\nstderr_stream.filename = printer.err\n"
        )
}

/// A master without saved state, publishing merged watcher output on a `[cluster]
/// logs_endpoint` of its own.
pub fn logging_master() -> crate::Master {
    logging_master_with("")
}

/// [`logging_master`] with `extra` (`key = value` lines) added to `[cluster]`.
pub fn logging_master_with(extra: &str) -> crate::Master {
    let logs = crate::ports::free_endpoint();
    crate::Master::start_with_config(&format!(
        "{}state_file = \"\"\nlogs_endpoint = \"{logs}\"\n{extra}",
        crate::master::CLUSTER_SECTION
    ))
}

/// A worker `name` ([`logging_worker_ini`]) that has joined `master`, with a `work` and a
/// `printer` watcher.
pub fn logging_worker(name: &str, master: &crate::Master, cmd: &str, stdout_stream: &str) -> crate::CircusNode {
    let ini = logging_worker_ini(name, &master.endpoint, &crate::ports::free_endpoint(), cmd, stdout_stream);
    let node = crate::CircusNode::start_from_template(name, &ini, &[("work", 1), ("printer", 1)]);
    master.wait_alive(name);
    node
}
