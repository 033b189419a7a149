//! Watcher output across the cluster (issue 16): real circusd workers whose `printer` watcher
//! writes numbered lines to a FileStream, each with a `clusterctl join` agent serving them on
//! its `logs_endpoint`; a master with `[cluster] logs_endpoint`; `clusterctl logs` reading
//! history, following and downloading.

use std::path::Path;

use cluster_e2e::background::Background;
use cluster_e2e::cli::{circusctl_retry, clusterctl};
use cluster_e2e::stream::Stream;
use cluster_e2e::worker::{logging_master, logging_worker, FILE_STREAM, PRINTER};
use cluster_e2e::{json, paths, wait_for, CircusNode, Master};
use clusterd_protocol::connection::Subscriber;

/// The numbers N of `<prefix> N` lines in `text`'s lines, in order.
fn numbers(lines: &[&str], prefix: &str) -> Vec<u64> {
    lines.iter().filter_map(|line| line.rsplit_once(prefix).and_then(|(_, n)| n.trim().parse().ok())).collect()
}

/// Every number follows the one before it: no line lost, none twice.
#[track_caller]
fn assert_consecutive(found: &[u64], what: &str) {
    assert!(!found.is_empty(), "{what}: no numbered line");
    for pair in found.windows(2) {
        assert_eq!(pair[1], pair[0] + 1, "{what}: {found:?}");
    }
}

/// `clusterctl logs ARGS` on `master`: its stdout, or an error (stderr) to wait on.
fn try_logs(master: &Master, args: &[&str]) -> Result<String, String> {
    let mut all = vec!["--endpoint", master.endpoint.as_str(), "logs"];
    all.extend_from_slice(args);
    let run = clusterctl(&all);
    if run.code == 0 {
        Ok(run.stdout)
    } else {
        Err(format!("status {}: {}", run.code, run.stderr))
    }
}

/// [`try_logs`], which must succeed.
#[track_caller]
fn logs(master: &Master, args: &[&str]) -> String {
    try_logs(master, args).unwrap_or_else(|err| panic!("clusterctl logs {args:?}: {err}"))
}

#[test]
fn last_lines_of_every_node_then_live_lines_then_a_download_that_resumes() {
    let master = logging_master();
    let _n1 = logging_worker("lg1", &master, PRINTER, FILE_STREAM);
    let _n2 = logging_worker("lg2", &master, PRINTER, FILE_STREAM);

    // The last 5 lines of each node, prefixed node:watcher[pid].
    let text = wait_for("5 lines of each node", || {
        let text = try_logs(&master, &["--node", "all", "printer", "-n", "5", "--stream", "stdout"])?;
        let count = |node: &str| text.lines().filter(|l| l.starts_with(&format!("{node}:printer["))).count();
        if count("lg1") == 5 && count("lg2") == 5 {
            Ok(text)
        } else {
            Err(text)
        }
    });
    for node in ["lg1", "lg2"] {
        let lines: Vec<&str> = text.lines().filter(|l| l.starts_with(&format!("{node}:printer["))).collect();
        // The pid is known once the agent has asked circusd (`[-]` before that).
        assert!(lines.iter().all(|l| l.contains("] line ")), "{lines:?}");
        assert_consecutive(&numbers(&lines, "line "), node);
    }

    // -f: history, then new lines of both nodes; Ctrl-C exits 0.
    let mut args = vec!["--endpoint", master.endpoint.as_str(), "--node", "lg1,lg2", "logs", "printer", "-f"];
    args.extend(["-n", "1", "--stream", "stdout"]);
    let mut follow = Background::spawn(&paths::workspace_bin("clusterctl"), &args);
    let mut last = std::collections::HashMap::new();
    while last.len() < 2 || last.values().any(|seen: &Vec<u64>| seen.len() < 4) {
        let line = follow.wait_line("a printer line", |l| l.contains(":printer[") && l.contains(" line "));
        let node = line.split(':').next().unwrap_or_default().to_string();
        last.entry(node).or_insert_with(Vec::new).extend(numbers(&[line.as_str()], "line "));
    }
    for (node, seen) in &last {
        assert_consecutive(seen, &format!("-f on {node}"));
    }
    assert_eq!(follow.interrupt(), Some(0), "Ctrl-C ends -f with status 0");

    // --to DIR: both streams of both nodes; a second run appends without duplicates.
    let dir = tempfile::tempdir().expect("tempdir");
    let to = dir.path().to_str().expect("utf-8");
    logs(&master, &["--node", "all", "printer", "--to", to]);
    let before = read(&dir.path().join("lg1/printer.stdout.log"));
    assert!(read(&dir.path().join("lg2/printer.stderr.log")).contains("err "), "stderr downloaded too");
    // Let a few more lines come, then resume.
    wait_for("new lines after the first download", || {
        let latest = try_logs(&master, &["--node", "lg1", "printer", "-n", "1", "--stream", "stdout"])?;
        let (newest, had) = (numbers(&[latest.trim()], "line "), numbers(&before.lines().collect::<Vec<_>>(), "line "));
        if newest.first() > had.last() {
            Ok(())
        } else {
            Err(latest)
        }
    });
    logs(&master, &["--node", "all", "printer", "--to", to]);
    for (node, stream, prefix) in [("lg1", "stdout", "line "), ("lg2", "stdout", "line "), ("lg1", "stderr", "err ")] {
        let text = read(&dir.path().join(format!("{node}/printer.{stream}.log")));
        let found = numbers(&text.lines().collect::<Vec<_>>(), prefix);
        assert_consecutive(&found, &format!("{node} {stream} after two runs"));
    }
    let after = read(&dir.path().join("lg1/printer.stdout.log"));
    assert!(after.starts_with(&before) && after.len() > before.len(), "the second run appended to lg1's stdout");
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

#[test]
fn a_node_without_an_agent_is_named_with_what_it_lacks() {
    let plain = CircusNode::start("plainlog", &[("work", 1)]);
    let master = Master::start(&[&plain]);
    let run = clusterctl(&["--endpoint", &master.endpoint, "--node", "plainlog", "logs", "work"]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stderr.contains("plainlog has no log agent") && run.stderr.contains("logs_endpoint"), "{run:?}");
}

#[test]
fn rotation_by_time_and_a_file_moved_away_lose_no_line() {
    let master = logging_master();
    // No backup_count: circus 0.19's TimedRotatingFileStream fails every rollover with one.
    let timed = "stdout_stream.class = TimedRotatingFileStream\nstdout_stream.filename = printer.out\n\
                 stdout_stream.rotate_when = S\nstdout_stream.rotate_interval = 1\n";
    let _rotating = logging_worker("lgrot", &master, PRINTER, timed);
    let watched = "stdout_stream.class = WatchedFileStream\nstdout_stream.filename = printer.out\n";
    let moved = logging_worker("lgmove", &master, PRINTER, watched);
    let history = |node: &str| try_logs(&master, &["--node", node, "printer", "-n", "10000", "--stream", "stdout"]);
    wait_for("a few lines", || {
        let text = history("lgmove")?;
        if text.lines().count() >= 5 {
            Ok(())
        } else {
            Err(text)
        }
    });
    std::fs::rename(moved.dir().join("printer.out"), moved.dir().join("printer.out.1")).expect("move the file away");
    // Lines keep coming in the new file (circus reopens it), and none is lost in between.
    for node in ["lgrot", "lgmove"] {
        let text = wait_for("lines written after rotations", || {
            let text = history(node)?;
            if text.lines().count() >= 25 {
                Ok(text)
            } else {
                Err(text)
            }
        });
        assert_consecutive(&numbers(&text.lines().collect::<Vec<_>>(), "line "), node);
    }
    assert!(moved.dir().join("printer.out").exists(), "WatchedFileStream opened a new file");
}

#[test]
fn a_huge_line_is_cut_and_marked_and_binary_bytes_escaped() {
    let master = logging_master();
    // After a pause, so that the agent follows the file from its start.
    let cmd = "sh -c \"sleep 2; head -c 1048576 /dev/zero | tr '\\\\0' a; echo; printf '\\\\377\\\\376 bin\\\\n'; \
               echo done; sleep 3600\"";
    let node = logging_worker("lgbig", &master, cmd, FILE_STREAM);
    let text = wait_for("the printer's output", || {
        let text = try_logs(&master, &["--node", "lgbig", "printer", "-n", "10", "--stream", "stdout"])?;
        if text.contains("done") {
            Ok(text)
        } else {
            Err(text)
        }
    });
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{:?}", lines.iter().map(|l| l.len()).collect::<Vec<_>>());
    let expected_cut = format!("{} [line cut at 16384 bytes]", "a".repeat(16384));
    assert!(lines[0].ends_with(&expected_cut), "{}", &lines[0][..80]);
    // circus itself writes undecodable output as U+FFFD; bytes in the file are escaped.
    assert!(lines[1].ends_with("\u{fffd}\u{fffd} bin"), "{}", lines[1]);
    assert!(lines[2].ends_with(" done"), "{}", lines[2]);
    let mut file = std::fs::OpenOptions::new().append(true).open(node.dir().join("printer.out")).expect("open");
    std::io::Write::write_all(&mut file, b"\xff\xfe raw \xc3\xa9\n").expect("append");
    wait_for("the raw bytes, escaped", || {
        let text = try_logs(&master, &["--node", "lgbig", "printer", "-n", "1", "--stream", "stdout"])?;
        if text.trim_end().ends_with("\\xff\\xfe raw \u{e9}") {
            Ok(())
        } else {
            Err(text)
        }
    });
}

#[test]
fn a_log_subscriber_that_stops_reading_never_stops_stats_forwarding_or_commands() {
    let master = logging_master();
    // About 4,000 lines/s: circusd itself (Python) must still answer while writing them.
    let flood = "sh -c 'while :; do seq 1 200; sleep 0.05; done'";
    let _node = logging_worker("lgflood", &master, flood, FILE_STREAM);
    let options = master.call("globaloptions", json!({}));
    let logs_endpoint = options["options"]["logs_endpoint"].as_str().expect("logs_endpoint").to_string();
    // Subscribed to everything, reading nothing: its queue fills and stays full.
    let _stuck = Subscriber::connect_with_hwm(&logs_endpoint, &["log.".to_string()], 1).expect("subscribe");
    let reader = Stream::subscribe(&logs_endpoint, &["log.lgflood:printer.stdout"]);
    let line = reader.wait_for("a flooded line", |m| m.topic == "log.lgflood:printer.stdout");
    assert_eq!(line.payload["node"], "lgflood", "{:?}", line.payload);
    assert_eq!(line.payload["watcher"], "printer");
    // Meanwhile the node's stats go on through the master, message after message, and commands
    // are answered.
    let stats = Stream::subscribe(&master.stats_endpoint, &["stat.lgflood"]);
    for _ in 0..5 {
        stats.wait_for("a stats message of the flooding node", |m| m.topic.starts_with("stat.lgflood"));
        stats.drain();
    }
    assert_eq!(master.node_entry("lgflood").expect("listed")["state"], "alive");
    let dstats = master.call("dstats", json!({}));
    assert!(dstats["logs"]["feed"] == true && dstats["logs"]["dropped"].is_u64(), "{}", dstats["logs"]);
    assert_eq!(circusctl_retry(&master.endpoint, &["status", "lgflood:work"]).ok().trim(), "active");
}

#[test]
fn json_lines_since_a_duration_and_a_followed_download() {
    let master = logging_master();
    let _node = logging_worker("lgjson", &master, PRINTER, FILE_STREAM);
    let all = wait_for("twenty lines", || {
        let text = try_logs(&master, &["--node", "lgjson", "printer", "-n", "10000", "--json", "--stream", "stdout"])?;
        if text.lines().count() >= 20 {
            Ok(text)
        } else {
            Err(text)
        }
    });
    for line in all.lines() {
        let value: serde_json::Value = serde_json::from_str(line).expect("one JSON object per line");
        for key in ["node", "watcher", "stream", "pid", "time", "line"] {
            assert!(value.get(key).is_some(), "{key} missing in {line}");
        }
        assert_eq!((value["node"].as_str(), value["stream"].as_str()), (Some("lgjson"), Some("stdout")), "{line}");
    }
    // --since keeps only the recent lines: fewer than all of them, each stamped within it.
    let asked_at = clusterd_protocol::message::now();
    let recent =
        logs(&master, &["--node", "lgjson", "printer", "-n", "10000", "--json", "--since", "1s", "--stream", "stdout"]);
    let times: Vec<f64> = recent
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json")["time"].as_f64().expect("time"))
        .collect();
    assert!(times.len() < all.lines().count(), "{} recent of {}", times.len(), all.lines().count());
    assert!(times.iter().all(|time| *time >= asked_at - 1.5), "{times:?} asked at {asked_at}");

    // --to DIR -f: the history, then live lines appended, until Ctrl-C (status 0).
    let dir = tempfile::tempdir().expect("tempdir");
    let to = dir.path().to_str().expect("utf-8");
    let args = ["--endpoint", master.endpoint.as_str(), "--node", "lgjson", "logs", "printer", "--to", to, "-f"];
    let follow = Background::spawn(&paths::workspace_bin("clusterctl"), &args);
    let file = dir.path().join("lgjson/printer.stdout.log");
    let first = wait_for("the downloaded history", || std::fs::read_to_string(&file).map_err(|e| e.to_string()));
    wait_for("live lines appended", || {
        let now = std::fs::read_to_string(&file).map_err(|e| e.to_string())?;
        if now.lines().count() >= first.lines().count() + 5 {
            Ok(())
        } else {
            Err(now)
        }
    });
    assert_eq!(follow.interrupt(), Some(0));
    let text = read(&file);
    assert_consecutive(&numbers(&text.lines().collect::<Vec<_>>(), "line "), "--to -f");
}
