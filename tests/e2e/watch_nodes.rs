//! `clusterctl watch-nodes` (issue 17 item 4): a file rendered from a template over the nodes,
//! kept up to date from the master's `cluster.*` events, with a command run once per change.
//! Real circusd nodes behind a real clusterd with the default `registry = "file"`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cluster_e2e::background::Background;
use cluster_e2e::cli::clusterctl;
use cluster_e2e::ports::free_endpoint;
use cluster_e2e::{json, ok, paths, wait_for, CircusNode, Cluster, Master, Value};
use tempfile::TempDir;

/// One line per node: what seed 003's load balancer would read.
const BACKENDS: &str = "{% for node in nodes %}{{ node.name }} {{ node.host }}:{{ node.port }}\n{% endfor %}";

/// Longer than `wait_for`'s limit: a file that follows a change within that limit followed the
/// master's events, not the periodic check. How fast it follows (the 2 s) is a speed
/// figure, printed here and never asserted (the repository's rule: no timed assertions).
const NO_RESYNC: &str = "60s";

/// A running `watch-nodes` and its folder (template, output, and the `--exec` command's log).
struct Watch {
    dir: TempDir,
    process: Background,
}

impl Watch {
    /// Starts `clusterctl watch-nodes` against `endpoint` with `template`, writing `out.cfg` and
    /// appending one line to `runs.log` per `--exec`; `extra` are more arguments.
    fn start(endpoint: &str, template: &str, extra: &[&str]) -> Watch {
        let dir = tempfile::tempdir().expect("tempdir");
        let template_path = write(dir.path(), "backends.cfg.j2", template);
        let exec = format!("echo \"$CLUSTERCTL_WATCH_NODES\" >> {}", dir.path().join("runs.log").display());
        let mut args: Vec<String> = ["--endpoint", endpoint, "watch-nodes", "--template"].map(String::from).to_vec();
        args.push(template_path.display().to_string());
        args.extend(["--out".into(), dir.path().join("out.cfg").display().to_string(), "--exec".into(), exec]);
        args.extend(extra.iter().map(|a| a.to_string()));
        let process = Background::spawn(&paths::workspace_bin("clusterctl"), &args);
        Watch { dir, process }
    }

    fn out(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("out.cfg")).unwrap_or_default()
    }

    /// How many times `--exec` ran.
    fn runs(&self) -> usize {
        std::fs::read_to_string(self.dir.path().join("runs.log")).unwrap_or_default().lines().count()
    }

    /// Waits until the file satisfies `wanted`; returns when it was first seen so.
    fn wait_out(&self, what: &str, wanted: impl Fn(&str) -> bool) -> Instant {
        wait_for(what, || {
            let text = self.out();
            if wanted(&text) {
                Ok(Instant::now())
            } else {
                Err(text)
            }
        })
    }

    /// Waits until `--exec` ran `n` times, then checks that it does not run again while the
    /// events of the change settle.
    fn assert_runs(&self, n: usize) {
        wait_for(
            &format!("{n} runs of --exec"),
            || if self.runs() >= n { Ok(()) } else { Err(self.runs().to_string()) },
        );
        std::thread::sleep(Duration::from_millis(1500));
        assert_eq!(self.runs(), n, "runs.log: {:?}", std::fs::read_to_string(self.dir.path().join("runs.log")));
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

fn line(node: &CircusNode) -> String {
    format!("{} {}\n", node.name, node.endpoint.trim_start_matches("tcp://"))
}

fn register(master: &Master, node: &CircusNode) {
    let properties = json!({"name": node.name, "endpoint": node.endpoint, "stats_endpoint": node.stats_endpoint,
        "pubsub_endpoint": node.pubsub_endpoint});
    ok(master.call("register_node", properties));
}

/// The master's state for `name` ("gone" once it is no longer listed).
fn state(master: &Master, name: &str) -> String {
    master.node_entry(name).map_or("gone".into(), |entry| entry["state"].as_str().unwrap_or("?").to_string())
}

#[test]
fn follows_a_join_and_a_kill_and_runs_its_command_once_per_change() {
    let mut c = Cluster::start();
    c.master.wait_node_state("first", "alive");
    c.master.wait_node_state("second", "alive");
    // A long --resync: what follows must come from the events, not from the periodic check.
    let watch = Watch::start(c.ep(), BACKENDS, &["--state", "alive", "--resync", NO_RESYNC]);
    let both = format!("{}{}", line(&c.first), line(&c.second));
    watch.wait_out("the first rendering", |text| text == both);
    watch.assert_runs(1);

    // A join: the file follows (from the events) once the master sees the node alive.
    let third = CircusNode::start("third", &[("dummy3", 1)]);
    register(&c.master, &third);
    let alive = wait_for("third alive", || {
        if state(&c.master, "third") == "alive" {
            Ok(Instant::now())
        } else {
            Err(state(&c.master, "third"))
        }
    });
    let all = format!("{both}{}", line(&third));
    let seen = watch.wait_out("third in the file", |text| text == all);
    eprintln!("watch-nodes: rendered {:?} after the master saw the join", seen.duration_since(alive));
    watch.assert_runs(2);

    // A kill: second stops being alive and leaves the file (from the events).
    c.second.kill9();
    let not_alive = wait_for("second no longer alive", || match state(&c.master, "second").as_str() {
        "alive" => Err("alive".to_string()),
        _ => Ok(Instant::now()),
    });
    let without_second = format!("{}{}", line(&c.first), line(&third));
    let seen = watch.wait_out("second gone from the file", |text| text == without_second);
    eprintln!("watch-nodes: rendered {:?} after the master saw the kill", seen.duration_since(not_alive));
    // suspect, then down: one change of the file, one run.
    c.master.wait_node_state("second", "down");
    watch.assert_runs(3);
    let log = std::fs::read_to_string(watch.dir.path().join("runs.log")).unwrap();
    assert_eq!(log, "first,second\nfirst,second,third\nfirst,third\n");
    let stderr = watch.process.stop();
    assert!(!stderr.contains("error"), "stderr: {stderr}");
}

#[test]
fn once_renders_the_node_set_and_exits() {
    let c = Cluster::start();
    c.master.wait_node_state("second", "alive");
    let dir = tempfile::tempdir().expect("tempdir");
    let template =
        write(dir.path(), "t.j2", "{% for n in nodes %}{{ n.name }} {{ n.state }} {{ n.tags|tojson }}\n{% endfor %}");
    let out = dir.path().join("nodes.txt");
    let runs = dir.path().join("runs.log");
    let exec = format!("echo ran >> {}", runs.display());
    let args = ["--endpoint", c.ep(), "--node", "second", "watch-nodes", "--once", "--json", "--template"];
    let run = clusterctl(
        &[&args[..], &[template.to_str().unwrap(), "--out", out.to_str().unwrap(), "--exec", &exec]].concat(),
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "second alive []\n");
    assert_eq!(std::fs::read_to_string(&runs).unwrap(), "ran\n");
    let reported: Value = serde_json::from_str(run.stdout.trim()).expect("one JSON line");
    assert_eq!(reported["nodes"], json!(["second"]), "{reported}");
    assert_eq!(reported["exec"], "ok", "{reported}");
    assert_eq!(reported["out"], out.to_str().unwrap(), "{reported}");
}

#[test]
fn debounce_collapses_a_burst_into_one_run() {
    let c = Cluster::start();
    let names = "{% for n in nodes %}{{ n.name }}\n{% endfor %}";
    let watch = Watch::start(c.ep(), names, &["--debounce", "3s"]);
    watch.wait_out("the first rendering", |text| text == "first\nsecond\n");
    watch.assert_runs(1);
    // Three registrations in a burst (nothing listens there: the nodes go down, which the
    // template does not show, so only the joins change the file).
    for name in ["n1", "n2", "n3"] {
        let properties = json!({"name": name, "endpoint": free_endpoint(), "stats_endpoint": free_endpoint(), "pubsub_endpoint": free_endpoint()});
        ok(c.master.call("register_node", properties));
    }
    watch.wait_out("the burst in the file", |text| text == "first\nn1\nn2\nn3\nsecond\n");
    std::thread::sleep(Duration::from_secs(3));
    watch.assert_runs(2);
}

#[test]
fn keeps_the_file_while_the_master_is_away_and_follows_it_after_a_restart() {
    let mut c = Cluster::start();
    // A short --timeout, so that the outage is seen while the master is away.
    let watch = Watch::start(c.ep(), BACKENDS, &["--resync", "1s", "--timeout", "1"]);
    let both = format!("{}{}", line(&c.first), line(&c.second));
    watch.wait_out("the first rendering", |text| text == both);
    c.master.kill9();
    // Several resync periods without a master: an unreachable master is not an empty cluster.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(watch.out(), both);
    c.master.restart();
    let third = CircusNode::start("third", &[("dummy3", 1)]);
    register(&c.master, &third);
    watch.wait_out("third in the file after the restart", |text| text == format!("{both}{}", line(&third)));
    let stderr = watch.process.stop();
    assert!(stderr.contains("does not answer") && stderr.contains("is kept as it is"), "{stderr}");
    assert!(stderr.contains("answers again: following tcp://"), "{stderr}");
}

#[test]
fn a_bad_template_is_refused_at_start_with_its_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out.cfg");
    // No master at this endpoint: the template is checked before anything is asked.
    let endpoint = free_endpoint();
    let cases = [
        ("{% for n in nodes %}\n{{ n.name }\n{% endfor %}", "line 2: syntax error"),
        ("header\n{% for n in nodes %}\n{{ n.adress }}\n{% endfor %}", "line 3: undefined value"),
    ];
    for (text, expected) in cases {
        let template = write(dir.path(), "bad.j2", text);
        let args = ["--endpoint", &endpoint, "watch-nodes", "--template", template.to_str().unwrap(), "--out"];
        let run = clusterctl(&[&args[..], &[out.to_str().unwrap()]].concat());
        assert_eq!(run.code, 2, "{run:?}");
        assert!(run.stderr.contains(&format!("template {}, {expected}", template.display())), "{run:?}");
        assert!(!out.exists(), "nothing written for a bad template");
    }
    let run = clusterctl(&["watch-nodes", "--template", "t", "--out", "o", "--state", "up"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("alive, suspect, down"), "{run:?}");
    // A node set that cannot parse is refused before anything is asked too.
    let good = write(dir.path(), "good.j2", BACKENDS);
    let args = ["--endpoint", &endpoint, "--node", "web[5-1]", "watch-nodes", "--template", good.to_str().unwrap()];
    let run = clusterctl(&[&args[..], &["--out", out.to_str().unwrap()]].concat());
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("error: --node: bad node set 'web[5-1]'"), "{run:?}");
    assert!(!out.exists(), "nothing written for a bad node set");
}
