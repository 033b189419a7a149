//! The HTTP server's JSON API (`http_endpoint`, docs/http.md) against real circusd nodes: the
//! reads come from the cluster view, the actions go through the dispatcher (checked with
//! circusctl), are audited as `http:<peer>`, and the safety rules refuse what they must.

use std::time::Duration;

use cluster_e2e::cli::{circusctl, clusterctl};
use cluster_e2e::http::{dashboard_cluster, get, post, request, EventStream};
use cluster_e2e::master::{run_to_exit, write_file, CLUSTER_SECTION};
use cluster_e2e::{paths, ports, wait_for, Master, Value};

/// The `/api/watchers` row of `node`/`watcher`.
fn watcher_row(addr: &str, node: &str, watcher: &str) -> Option<Value> {
    let rows = get(addr, "/api/watchers").json()["watchers"].as_array().cloned().unwrap_or_default();
    rows.into_iter().find(|w| w["node"] == node && w["watcher"] == watcher)
}

fn wait_processes(addr: &str, node: &str, watcher: &str, n: u64) {
    wait_for(&format!("/api/watchers to show {node}/{watcher} with {n} processes"), || {
        match watcher_row(addr, node, watcher) {
            Some(row) if row["processes"] == n => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
}

#[test]
fn nodes_and_watchers_are_listed_from_the_live_view() {
    let (_cluster, addr) = dashboard_cluster("");
    let health = get(&addr, "/healthz");
    assert_eq!((health.status, health.json()["nodes"].as_u64()), (200, Some(2)));
    wait_for("both nodes alive in /api/nodes", || {
        let nodes = get(&addr, "/api/nodes").json()["nodes"].clone();
        let states: Vec<(String, String)> = nodes
            .as_array()
            .into_iter()
            .flatten()
            .map(|n| (n["name"].as_str().unwrap_or("").into(), n["state"].as_str().unwrap_or("").into()))
            .collect();
        let want = [("first".into(), "alive".into()), ("second".into(), "alive".into())];
        if states == want && nodes[0]["circusd_pid"].is_u64() {
            Ok(())
        } else {
            Err(nodes.to_string())
        }
    });
    wait_processes(&addr, "first", "dummy", 1);
    wait_processes(&addr, "second", "dummy2", 2);
    let row = watcher_row(&addr, "second", "dummy2").unwrap();
    assert_eq!(row["status"], "active");
    assert_eq!(row["pids"].as_array().map(Vec::len), Some(2), "{row}");
    assert!(row["mem_bytes"].as_u64().unwrap_or(0) > 0, "{row}");
}

#[test]
fn actions_go_through_the_dispatcher_and_are_audited() {
    let (cluster, addr) = dashboard_cluster("");
    let reply = post(&addr, "/api/nodes/second/watchers/dummy2/stop", &[]);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["status"], "ok");
    wait_for("second:dummy2 stopped", || match cluster.second.status("dummy2").as_str() {
        "stopped" => Ok(()),
        other => Err(other.to_string()),
    });
    assert_eq!(cluster.first.status("dummy"), "active", "only the one node's watcher stops");
    let audit = cluster.master.stderr();
    assert!(
        audit.lines().any(|l| l.contains("audit") && l.contains("http:127.0.0.1:") && l.contains("stop")),
        "{audit}"
    );

    // A node set: incr on `first` only, answered with the gathered per-node outcome.
    let reply = post(&addr, "/api/watchers/dummy/incr?nodes=first", &[]);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.json()["replies"]["first"]["status"] == "ok", "{}", reply.body);
    cluster.first.wait_numprocesses("dummy", 2);
    assert_eq!(circusctl(cluster.ep(), &["numprocesses", "first:dummy"]).ok().trim(), "2");
    wait_processes(&addr, "first", "dummy", 2);

    // Every node: each answers for itself (second has no `dummy`).
    let reply = post(&addr, "/api/watchers/dummy/decr", &[]);
    let replies = reply.json()["replies"].clone();
    assert_eq!(replies["first"]["status"], "ok", "{}", reply.body);
    assert_eq!(replies["second"]["status"], "error", "{}", reply.body);
    cluster.first.wait_numprocesses("dummy", 1);

    let reply = post(&addr, "/api/watchers/dummy/rm", &[]);
    assert_eq!(reply.status, 400);
    let reason = reply.json()["reason"].as_str().unwrap_or_default().to_string();
    assert!(reason.contains("unknown action 'rm'") && reason.contains("start, stop, restart, incr, decr"), "{reason}");
    let reply = post(&addr, "/api/nodes/nowhere/watchers/dummy/stop", &[]);
    assert_eq!((reply.status, reply.json()["errno"].as_u64()), (502, Some(3)), "{}", reply.body);
}

#[test]
fn cross_site_and_read_only_requests_are_refused() {
    let (cluster, addr) = dashboard_cluster("http_readonly = true");
    let reply = post(&addr, "/api/nodes/second/watchers/dummy2/stop", &[]);
    assert_eq!(reply.status, 403);
    assert!(reply.json()["reason"].as_str().unwrap_or_default().contains("http_readonly"), "{}", reply.body);
    assert!(!get(&addr, "/").body.contains("data-action"), "read-only pages have no buttons");
    drop(cluster);

    let (cluster, addr) = dashboard_cluster("");
    for header in [("Origin", "http://evil.example"), ("Sec-Fetch-Site", "cross-site")] {
        let reply = post(&addr, "/api/nodes/second/watchers/dummy2/stop", &[header]);
        assert_eq!(reply.status, 403, "{header:?}");
        assert!(reply.json()["reason"].as_str().unwrap_or_default().contains("cross-site"), "{}", reply.body);
    }
    let same = format!("http://{addr}");
    let reply = post(&addr, "/api/nodes/second/watchers/dummy2/stop", &[("Origin", &same)]);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(get(&addr, "/").body.contains("data-action=\"stop\""), "the page has buttons");
    assert_eq!(cluster.first.status("dummy"), "active");
}

#[test]
fn a_token_guards_the_api_and_the_event_stream() {
    let (_cluster, addr) = dashboard_cluster("http_token = \"s3cret\"");
    let refused = get(&addr, "/api/nodes");
    assert_eq!(refused.status, 401);
    assert!(refused.json()["reason"].as_str().unwrap_or_default().contains("Bearer"), "{}", refused.body);
    assert_eq!(get(&addr, "/metrics").status, 401);
    let wrong = request(&addr, "GET", "/api/nodes", &[("Authorization", "Bearer nope")]).unwrap();
    assert_eq!(wrong.status, 401);
    let ok = request(&addr, "GET", "/api/nodes", &[("Authorization", "Bearer s3cret")]).unwrap();
    assert_eq!(ok.status, 200, "{}", ok.body);
    let mut events = EventStream::open(&addr, "/api/events?token=s3cret");
    assert_eq!(events.next(Duration::from_secs(10)).map(|(name, _)| name).as_deref(), Some("snapshot"));
    // The page loads (the script asks for the token) but carries no cluster data.
    let page = get(&addr, "/");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("data-token=\"true\"") && !page.body.contains("data-key=\"first\""), "{}", page.body);
    assert_eq!(get(&addr, "/healthz").status, 200, "health checks need no token");
}

#[test]
fn a_remote_http_endpoint_needs_allow_remote_and_a_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let section = CLUSTER_SECTION
        .replace("{endpoint}", &ports::free_endpoint())
        .replace("{stats_endpoint}", &ports::free_endpoint())
        .replace("{pubsub_endpoint}", &ports::free_endpoint());
    let remote = format!("{section}http_endpoint = \"0.0.0.0:{}\"\n", ports::free_port());
    for (file, text, key, words) in [
        ("remote.toml", remote.clone(), "cluster.http_endpoint", "allow_remote"),
        (
            "no-token.toml",
            remote.replace("[cluster]\n", "[cluster]\nallow_remote = true\n"),
            "cluster.http_token",
            "http_token",
        ),
    ] {
        let path = write_file(dir.path(), file, &text);
        let out = run_to_exit(&path);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{file}: {stderr}");
        assert!(stderr.contains(key) && stderr.contains(words), "{file}: {stderr}");
    }
}

#[test]
fn clusterctl_dashboard_prints_and_opens_the_url() {
    let (cluster, addr) = dashboard_cluster("");
    let out = clusterctl(&["--endpoint", cluster.ep(), "dashboard"]);
    assert_eq!((out.code, out.stdout.as_str()), (0, format!("http://{addr}/\n").as_str()), "{out:?}");

    // --open hands the URL to xdg-open (a stand-in on PATH records it).
    let bin = tempfile::tempdir().expect("tempdir");
    let opened = bin.path().join("opened");
    let script = bin.path().join("xdg-open");
    std::fs::write(&script, format!("#!/bin/sh\necho \"$1\" > {}\n", opened.display())).expect("script");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    let path = format!("{}:{}", bin.path().display(), std::env::var("PATH").unwrap_or_default());
    let status = std::process::Command::new(paths::workspace_bin("clusterctl"))
        .args(["--endpoint", cluster.ep(), "dashboard", "--open"])
        .env("PATH", path)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("clusterctl");
    assert!(status.success());
    let url = wait_for("xdg-open to be run", || match std::fs::read_to_string(&opened) {
        Ok(text) if text.ends_with('\n') => Ok(text),
        other => Err(format!("{other:?}")),
    });
    assert_eq!(url.trim(), format!("http://{addr}/"));

    // A master without a dashboard says how to turn it on.
    let plain = Master::start(&[&cluster.first]);
    let out = clusterctl(&["--endpoint", &plain.endpoint, "dashboard"]);
    // Exit status 3, clusterctl's for an error reply.
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.contains("http_endpoint"), "{out:?}");
}

#[test]
fn the_pages_show_nodes_watchers_and_processes() {
    let (cluster, addr) = dashboard_cluster("");
    wait_processes(&addr, "second", "dummy2", 2);
    let index = get(&addr, "/");
    assert_eq!(index.status, 200);
    assert!(index.header("content-type").is_some_and(|t| t.starts_with("text/html")), "{:?}", index.headers);
    for key in ["data-key=\"first\"", "data-key=\"second\"", "data-key=\"first/dummy\"", "data-key=\"second/dummy2\""] {
        assert!(index.body.contains(key), "{key} missing from /");
    }
    let page = get(&addr, "/nodes/second");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("data-key=\"second/dummy2\"") && !page.body.contains("data-key=\"first/dummy\""));
    for pid in cluster.second.pids("dummy2") {
        assert!(page.body.contains(&format!("<td>{pid}</td>")), "pid {pid} missing from /nodes/second");
    }
    let missing = get(&addr, "/nodes/nowhere");
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("known: first, second"), "{}", missing.body);
    let script = get(&addr, "/assets/app.js");
    assert!(script.status == 200 && script.body.contains("EventSource"), "{}", script.status);
    assert_eq!(get(&addr, "/assets/nothing.js").status, 404);
}
