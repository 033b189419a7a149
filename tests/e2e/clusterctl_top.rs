//! `clusterctl top` and `clusterctl listen` against the master's merged streams: the viewer
//! shows both nodes' watchers and processes with their states, follows a node that restarts,
//! sorts on a key and quits cleanly; listen prints readable lines and `--json` objects. Both find
//! the streams from the command endpoint alone (`--endpoint`, `CLUSTERCTL_ENDPOINT`), filter to
//! a `--node` set, and say so when the endpoint is not a clusterd.

use cluster_e2e::background::Background;
use cluster_e2e::cli::clusterctl;
use cluster_e2e::tmux::{shows_all, Tmux};
use cluster_e2e::{json, paths, wait_for, Cluster};

fn pid_strings(pids: Vec<u64>) -> Vec<String> {
    pids.iter().map(u64::to_string).collect()
}

#[test]
fn top_shows_the_cluster_and_follows_a_restarted_node() {
    let mut c = Cluster::start();
    let bin = paths::workspace_bin("clusterctl");
    let command = format!(
        "exec {} top --stats-endpoint {} --endpoint {} 2>{{dir}}/stderr",
        bin.display(),
        c.master.stats_endpoint,
        c.master.endpoint
    );
    let top = Tmux::start("clusterctl-top", &command);

    let mut wanted: Vec<String> = ["first", "second", "dummy", "dummy2", "alive", "sort: CPU"].map(String::from).into();
    wanted.extend(pid_strings(c.first.pids("dummy")));
    wanted.extend(pid_strings(c.second.pids("dummy2")));
    top.wait_screen("both nodes, their processes and states", |s| shows_all(s, &wanted));

    top.send_keys(&["m"]);
    top.wait_screen("the memory sort", |s| shows_all(s, &["sort: MEM".to_string()]));

    // A node that restarts reappears by itself, with its new processes.
    let old = c.second.pids("dummy2");
    c.second.kill9();
    c.second.restart();
    let new = pid_strings(c.second.pids("dummy2"));
    assert!(new.iter().all(|p| !old.contains(&p.parse().unwrap_or(0))), "{old:?} -> {new:?}");
    top.wait_screen("second's new processes", |s| shows_all(s, &new));
    // ... and its old ones drop out once stale.
    top.wait_screen("second's old processes gone", |s| {
        let stale: Vec<String> = pid_strings(old.clone()).into_iter().filter(|p| s.contains(p.as_str())).collect();
        if stale.is_empty() {
            Ok(())
        } else {
            Err(format!("still shown: {stale:?}"))
        }
    });

    top.send_keys(&["q"]);
    let status = wait_for("clusterctl top to exit", || top.exit_status().ok_or("still running".to_string()));
    assert_eq!(status, 0, "stderr: {}", std::fs::read_to_string(top.dir().join("stderr")).unwrap_or_default());
}

#[test]
fn listen_prints_node_watcher_event_lines_and_json() {
    let c = Cluster::start();
    let bin = paths::workspace_bin("clusterctl");
    let mut plain = Background::spawn(&bin, &["listen", "--pubsub-endpoint", &c.master.pubsub_endpoint]);
    let mut as_json = Background::spawn(&bin, &["listen", "--json", "--pubsub-endpoint", &c.master.pubsub_endpoint]);
    // SUB sockets connect in the background: ask again until the events arrive.
    let line = wait_for("a spawn line from clusterctl listen", || {
        c.master.call("incr", json!({"name": "first:dummy"}));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
        while let Some(line) = plain.line_before(deadline) {
            if line.starts_with("first dummy spawn {") {
                return Ok(line);
            }
        }
        Err("no spawn line yet".to_string())
    });
    let payload: serde_json::Value =
        serde_json::from_str(line.trim_start_matches("first dummy spawn ")).expect("the payload is JSON");
    assert_eq!(payload["node"], "first", "{line}");
    assert!(c.first.pids("dummy").contains(&payload["process_pid"].as_u64().unwrap_or(0)), "{line}");

    let line = as_json.wait_line("a JSON spawn object", |l| l.contains("\"spawn\""));
    let object: serde_json::Value = serde_json::from_str(&line).expect("one JSON object per line");
    assert_eq!(object["topic"], "watcher.first:dummy.spawn", "{object}");
    assert_eq!(object["node"], "first", "{object}");
    assert_eq!(object["watcher"], "dummy", "{object}");
    assert_eq!(object["event"], "spawn", "{object}");
    assert_eq!(object["payload"]["node"], "first", "{object}");
    assert!(!plain.exited() && !as_json.exited());
}

/// Reads `listen` lines (asking `first` and `second` for a spawn each time round) until one
/// starts with `prefix`; returns every line read.
fn spawn_lines_until(c: &Cluster, listen: &mut Background, prefix: &str) -> Vec<String> {
    let mut seen = Vec::new();
    wait_for(&format!("a line starting with {prefix:?}"), || {
        c.master.call("incr", json!({"name": "first:dummy"}));
        c.master.call("incr", json!({"name": "second:dummy2"}));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
        while let Some(line) = listen.line_before(deadline) {
            let done = line.starts_with(prefix);
            seen.push(line);
            if done {
                return Ok(());
            }
        }
        Err(format!("lines so far: {seen:?}"))
    });
    seen
}

#[test]
fn listen_finds_the_stream_from_the_command_endpoint() {
    let c = Cluster::start();
    let bin = paths::workspace_bin("clusterctl");
    let mut by_option = Background::spawn(&bin, &["listen", "--endpoint", c.ep()]);
    spawn_lines_until(&c, &mut by_option, "first dummy spawn {");
    // CLUSTERCTL_ENDPOINT is honoured like for every other command.
    let script = format!("CLUSTERCTL_ENDPOINT={} exec {} listen", c.ep(), bin.display());
    let mut by_env = Background::spawn(std::path::Path::new("/bin/sh"), &["-c", &script]);
    spawn_lines_until(&c, &mut by_env, "second dummy2 spawn {");
    assert!(!by_option.exited() && !by_env.exited());
}

#[test]
fn listen_node_prints_only_that_nodes_events() {
    let c = Cluster::start();
    let bin = paths::workspace_bin("clusterctl");
    let mut everything = Background::spawn(&bin, &["listen", "--endpoint", c.ep()]);
    let mut second = Background::spawn(&bin, &["--node", "second", "listen", "--endpoint", c.ep()]);
    // Once the unfiltered listener has seen first's events, the filtered one has had them too.
    spawn_lines_until(&c, &mut everything, "first dummy spawn {");
    let seen = spawn_lines_until(&c, &mut second, "second dummy2 spawn {");
    spawn_lines_until(&c, &mut everything, "first dummy spawn {");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    let mut all = seen;
    while let Some(line) = second.line_before(deadline) {
        all.push(line);
    }
    assert!(all.iter().all(|line| line.starts_with("second ")), "{all:?}");
}

#[test]
fn stream_commands_pointed_at_a_stream_say_so() {
    let c = Cluster::start();
    // The merged event stream is a PUB socket: it never answers globaloptions.
    for command in ["listen", "top"] {
        let run = clusterctl(&["--endpoint", &c.master.pubsub_endpoint, "--timeout", "1", command]);
        assert_eq!(run.code, 1, "{command}: {run:?}");
        assert_eq!(
            run.stderr,
            format!("error: no answer from {} within 1s (is clusterd running there?)\n", c.master.pubsub_endpoint),
            "{command}"
        );
    }
}

#[test]
fn top_with_only_the_command_endpoint_shows_the_node_set() {
    let c = Cluster::start();
    let bin = paths::workspace_bin("clusterctl");
    let command = format!("exec {} top --endpoint {} --node first 2>{{dir}}/stderr", bin.display(), c.ep());
    let top = Tmux::start("clusterctl-top-node", &command);
    let mut wanted: Vec<String> = ["first", "dummy", "alive"].map(String::from).into();
    wanted.extend(pid_strings(c.first.pids("dummy")));
    top.wait_screen("first's processes", |s| shows_all(s, &wanted));
    // A few more stats rounds (about one a second): second's never show.
    std::thread::sleep(std::time::Duration::from_secs(3));
    let screen = top.screen();
    assert!(!screen.contains("dummy2") && !screen.contains("second"), "second shown:\n{screen}");
    top.send_keys(&["q"]);
    let status = wait_for("clusterctl top to exit", || top.exit_status().ok_or("still running".to_string()));
    assert_eq!(status, 0, "stderr: {}", std::fs::read_to_string(top.dir().join("stderr")).unwrap_or_default());
}
