//! `clusterctl join`: a worker circusd whose ini names its node and master, and runs the join as
//! one of its own watchers, registers by itself whatever the boot order, comes back after the
//! master lost it, leaves on circusd's quit or SIGTERM, and leaves nothing when circusd dies.

use std::path::Path;
use std::time::{Duration, Instant};

use cluster_e2e::cli::{circusctl, clusterctl};
use cluster_e2e::master::{assert_entry, CLUSTER_SECTION};
use cluster_e2e::worker::worker_ini;
use cluster_e2e::{json, paths, ports, procs, wait_for, CircusNode, Master};

/// Starts a worker circusd named `name` that joins `master` (an endpoint).
fn start_worker(name: &str, master: &str) -> CircusNode {
    CircusNode::start_from_template(name, &worker_ini(name, master, None), &[("work", 1)])
}

/// A master config without static nodes and without persisted state, so that a restart forgets
/// every registration.
fn master_config() -> String {
    format!("{CLUSTER_SECTION}state_file = \"\"\n")
}

/// Waits until the master no longer lists `name` at all (unregistered, not merely down).
fn wait_gone(master: &Master, name: &str) {
    wait_for(&format!("{name} to leave the master's nodes"), || match master.node_entry(name) {
        None => Ok(()),
        Some(entry) => Err(entry.to_string()),
    });
}

/// Waits until the worker's log (where its joiner writes) has a line containing `text`.
fn wait_log(node: &CircusNode, text: &str) {
    wait_for(&format!("'{text}' in {}'s log", node.name), || {
        let log = node.log();
        if log.lines().any(|line| line.contains(text)) {
            Ok(())
        } else {
            Err(log.lines().filter(|l| l.starts_with("clusterctl join")).collect::<Vec<_>>().join(" | "))
        }
    });
}

/// The pid of the worker's `clusterctl join` process.
fn joiner_pid(node: &CircusNode) -> u32 {
    let circusd = node.pid().expect("circusd runs");
    wait_for("the joiner process", || {
        procs::descendants(circusd)
            .into_iter()
            .find(|pid| {
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                cmdline.split(|b| *b == 0).any(|arg| arg == b"join")
                    && String::from_utf8_lossy(&cmdline).contains("clusterctl")
            })
            .ok_or_else(|| "no clusterctl join among circusd's children".to_string())
    })
}

/// True while `pid` exists and is not a zombie.
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| stat.rfind(')').map(|at| !stat[at + 1..].trim_start().starts_with('Z')))
        .unwrap_or(false)
}

#[test]
fn a_worker_joins_a_running_master_and_leaves_on_quit() {
    let master = Master::start_with_config(&master_config());
    let started = Instant::now();
    let worker = start_worker("w1", &master.endpoint);
    let entry = master.wait_alive(&worker.name);
    let took = started.elapsed();
    assert_entry(&entry, &worker, "registered");
    assert!(took < Duration::from_secs(10), "joined {took:?} after circusd was started");
    eprintln!("w1 joined {took:?} after circusd was started");
    // The whole cluster sees it: its watchers through the master, `clusterctl nodes` too.
    let status = circusctl(&master.endpoint, &["status", "w1:work"]);
    assert_eq!(status.ok().trim(), "active");
    let nodes = clusterctl(&["--endpoint", &master.endpoint, "nodes"]);
    let line = nodes.ok().lines().find(|l| l.starts_with("w1 ")).unwrap_or_else(|| panic!("{nodes:?}")).to_string();
    assert!(line.contains("alive") && line.contains("registered"), "{line}");

    let joiner = joiner_pid(&worker);
    assert_eq!(circusctl(&worker.endpoint, &["quit"]).ok().trim(), "ok");
    wait_gone(&master, "w1");
    wait_log(&worker, "clusterctl join: unregistered node w1");
    wait_for("the joiner to exit", || if running(joiner) { Err(format!("{joiner} runs")) } else { Ok(()) });
}

#[test]
fn a_worker_started_before_its_master_joins_when_it_comes_up_and_leaves_on_sigterm() {
    let endpoint = ports::free_endpoint();
    let mut worker = start_worker("w2", &endpoint);
    wait_log(&worker, &format!("clusterctl join: master {endpoint} unreachable"));
    let started = Instant::now();
    let master = Master::start_at(&endpoint, &master_config());
    let entry = master.wait_alive(&worker.name);
    let took = started.elapsed();
    assert_entry(&entry, &worker, "registered");
    // Worst case: a 2 s call that just missed the master, then the 5 s backoff cap.
    assert!(took < Duration::from_secs(12), "joined {took:?} after the master started");
    eprintln!("w2 joined {took:?} after the master was started");

    // SIGTERM to circusd, as `systemctl stop` does: circusd stops its watchers with SIGTERM.
    worker.stop();
    wait_gone(&master, "w2");
    wait_log(&worker, "clusterctl join: unregistered node w2");
}

#[test]
fn a_master_restarted_without_state_or_told_to_forget_gets_the_worker_back() {
    let mut master = Master::start_with_config(&master_config());
    let worker = start_worker("w3", &master.endpoint);
    master.wait_alive(&worker.name);

    master.kill9();
    master.restart();
    let restarted = Instant::now();
    let entry = master.wait_alive(&worker.name);
    let took = restarted.elapsed();
    assert_entry(&entry, &worker, "registered");
    assert!(took < Duration::from_secs(8), "registered again {took:?} after the restart");
    eprintln!("w3 registered again {took:?} after the master restart");
    wait_log(&worker, "clusterctl join: re-registered node w3");

    // unregister_node by hand: the joiner puts it back at once (next check, every 2 s).
    let reply = master.call("unregister_node", json!({"name": "w3"}));
    assert_eq!(reply["removed"], "w3", "{reply}");
    let removed = Instant::now();
    let entry = master.wait_alive(&worker.name);
    assert_entry(&entry, &worker, "registered");
    assert!(removed.elapsed() < Duration::from_secs(6), "back {:?} after unregister_node", removed.elapsed());
}

#[test]
fn a_joiner_whose_circusd_died_exits_without_unregistering() {
    let master = Master::start_with_config(&master_config());
    let worker = start_worker("w4", &master.endpoint);
    master.wait_alive(&worker.name);
    let joiner = joiner_pid(&worker);

    procs::signal(worker.pid().expect("circusd runs"), libc::SIGKILL);
    wait_for("the orphaned joiner to exit", || if running(joiner) { Err(format!("{joiner} runs")) } else { Ok(()) });
    // Still known to the master, which sees it go down by itself: nothing was unregistered.
    master.wait_node_state("w4", "down");
    assert!(!worker.log().contains("unregistered node w4"), "{}", worker.log());
    assert!(worker.log().contains("exiting without unregistering node w4"), "{}", worker.log());
    // Dropping `worker` sweeps circusd's orphaned `sleep` (tagged, through copy_env).
}

#[test]
fn the_shipped_worker_example_joins() {
    let master = Master::start_with_config(&master_config());
    let path = paths::workspace_root().join("config/worker.ini");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let template = text
        .replace("tcp://127.0.0.1:7555", "{endpoint}")
        .replace("tcp://127.0.0.1:7556", "{pubsub_endpoint}")
        .replace("tcp://127.0.0.1:7557", "{stats_endpoint}")
        .replace("tcp://127.0.0.1:5558", &master.endpoint)
        .replace(
            "cmd = clusterctl join config/worker.ini",
            &format!("cmd = {} join {{ini}}", paths::workspace_bin("clusterctl").display()),
        );
    assert!(template.contains("join {ini}"), "the join watcher's cmd changed:\n{text}");
    let worker = CircusNode::start_from_template("third", &template, &[("dummy3", 1)]);
    let entry = master.wait_alive(&worker.name);
    assert_entry(&entry, &worker, "registered");
    assert_eq!(circusctl(&master.endpoint, &["numprocesses", "third:dummy3"]).ok().trim(), "1");
}

#[test]
fn a_bad_worker_ini_exits_2_naming_the_file_and_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write ini");
        path
    };
    let no_node = write("no-node.ini", "[circus]\nendpoint = tcp://127.0.0.1:1\nmaster = tcp://127.0.0.1:2\n");
    let no_master = write("no-master.ini", "[circus]\nnode = w5\n");
    let bad_master = write("bad-master.ini", "[circus]\nnode = w5\nmaster = 127.0.0.1:5558\n");
    let missing = dir.path().join("missing.ini");
    for (path, needle) in [
        (&no_node, "[circus] has no 'node' key"),
        (&no_master, "[circus] has no 'master' key"),
        (&bad_master, "[circus] master: '127.0.0.1:5558'"),
        (&missing, "cannot read the worker's circusd ini"),
    ] {
        let run = clusterctl(&["join", &path.display().to_string()]);
        assert_eq!(run.code, 2, "{run:?}");
        assert!(run.stdout.is_empty(), "{run:?}");
        let expected = format!("error: {}: {needle}", path.display());
        assert!(run.stderr.starts_with(&expected), "expected {expected:?}: {run:?}");
        assert_eq!(run.stderr.lines().count(), 1, "one line: {run:?}");
    }
    assert!(!Path::new(&missing).exists());
}
