//! Safe by default: a master that other machines cannot reach unless `allow_remote = true`
//! (checked at start-up and on reload), a read-only endpoint for dashboards, and
//! `max_message_size`.

use std::time::{Duration, Instant};

use cluster_e2e::cli::{circusctl, clusterctl};
use cluster_e2e::master::{node_section, run_to_exit, write_file, CLUSTER_SECTION};
use cluster_e2e::{call, json, ports, CircusNode, Master};

/// The helper's `[cluster]` section with `extra` keys added to it.
fn cluster_with(extra: &str) -> String {
    format!("{CLUSTER_SECTION}{extra}")
}

/// The local addresses of the TCP sockets that process `pid` listens on, as `(ip, port)` text
/// read from /proc/net/tcp{,6}.
fn listening(pid: u32) -> Vec<(String, u16)> {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("clusterd's fds")
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter_map(|link| link.to_str()?.strip_prefix("socket:[")?.strip_suffix(']').map(str::to_string))
        .collect();
    let mut found = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // local_address is cols[1] (hex IP:port), st is cols[3] (0A = LISTEN), inode cols[9].
            if cols.len() > 9 && cols[3] == "0A" && inodes.iter().any(|i| i == cols[9]) {
                let (ip, port) = cols[1].split_once(':').expect("ip:port");
                found.push((ip.to_string(), u16::from_str_radix(port, 16).expect("hex port")));
            }
        }
    }
    found
}

/// True for a /proc/net/tcp{,6} address on loopback: 127.0.0.0/8 (little-endian hex, so the
/// last byte), ::1, or ::ffff:127.x.
fn is_loopback(hex_ip: &str) -> bool {
    match hex_ip.len() {
        8 => hex_ip.ends_with("7F"),
        32 => {
            hex_ip == "00000000000000000000000001000000"
                || (hex_ip.starts_with("0000000000000000FFFF0000") && hex_ip.ends_with("7F"))
        }
        _ => false,
    }
}

#[test]
fn a_default_master_listens_on_loopback_only() {
    let readonly = ports::free_endpoint();
    let master = Master::start_with_config(&cluster_with(&format!("readonly_endpoint = \"{readonly}\"\n")));
    let pid = master.pid().expect("running");
    let sockets = listening(pid);
    // Command, stats, pubsub and read-only endpoints.
    assert!(sockets.len() >= 4, "expected clusterd's 4 listening sockets, found {sockets:?}");
    let open: Vec<_> = sockets.iter().filter(|(ip, _)| !is_loopback(ip)).collect();
    assert!(open.is_empty(), "clusterd listens beyond loopback: {open:?} (all: {sockets:?})");
    assert!(!master.stderr().contains("allow_remote"), "no warning without allow_remote:\n{}", master.stderr());
}

#[test]
fn remote_endpoints_are_refused_unless_allowed_and_then_warned_about() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = CLUSTER_SECTION
        .replace("{endpoint}", &format!("tcp://0.0.0.0:{}", ports::free_port()))
        .replace("{stats_endpoint}", &ports::free_endpoint())
        .replace("{pubsub_endpoint}", &ports::free_endpoint());
    let path = write_file(dir.path(), "open.toml", &text);
    let out = run_to_exit(&path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    for needed in
        [&path.display().to_string(), "cluster.endpoint", "tcp://0.0.0.0:", "allow_remote = true", "docs/security.md"]
    {
        assert!(stderr.contains(needed), "{needed:?} missing from: {stderr}");
    }

    // Allowed: it starts, and says once what that means. Only the read-only endpoint is opened
    // to the network here, so that the test never exposes a command endpoint.
    let open = format!("tcp://0.0.0.0:{}", ports::free_port());
    let master = Master::start_with_config(&cluster_with(&format!(
        "allow_remote = true\nreadonly_endpoint = \"{open}\"\nstate_file = \"\"\n"
    )));
    let warnings: Vec<String> = master
        .stderr()
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("allow_remote"))
        .map(String::from)
        .collect();
    assert_eq!(warnings.len(), 1, "one warning: {warnings:?}\n{}", master.stderr());
    for needed in ["unauthenticated", "docs/security.md", "readonly_endpoint=tcp://0.0.0.0:"] {
        assert!(warnings[0].contains(needed), "{needed:?} missing from: {}", warnings[0]);
    }
    let local = open.replace("0.0.0.0", "127.0.0.1");
    let reply = call(&local, "nodes", json!({}), Duration::from_secs(10)).expect("read-only endpoint answers");
    assert_eq!(reply["status"], "ok", "{reply}");
}

#[test]
fn reload_refuses_a_remote_endpoint_without_allow_remote() {
    let master = Master::start_with_config(&cluster_with("state_file = \"\"\n"));
    let text = std::fs::read_to_string(&master.config).expect("config");
    let port = master.stats_endpoint.rsplit(':').next().expect("port").to_string();
    std::fs::write(&master.config, text.replace(&master.stats_endpoint, &format!("tcp://0.0.0.0:{port}")))
        .expect("rewrite config");
    let reply = master.call("reloadconfig", json!({}));
    assert_eq!(reply["errno"], 3, "{reply}");
    let reason = reply["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("cluster.stats_endpoint") && reason.contains("allow_remote = true"), "{reason}");
    assert_eq!(master.call("nodes", json!({}))["status"], "ok", "the master keeps serving");
}

#[test]
fn the_readonly_endpoint_answers_reads_and_refuses_changes() {
    let first = CircusNode::start("first", &[("dummy", 1)]);
    let readonly = ports::free_endpoint();
    let config = format!("{}{}", cluster_with(&format!("readonly_endpoint = \"{readonly}\"\n")), node_section(&first));
    let master = Master::start_with_config(&config);

    // Stock circusctl, as a dashboard would use it.
    let status = circusctl(&readonly, &["status"]);
    assert!(status.ok().contains("first:dummy: active"), "{status:?}");
    let list = circusctl(&readonly, &["list"]);
    assert!(list.ok().contains("first:dummy"), "{list:?}");
    let nodes = clusterctl(&["--endpoint", &readonly, "nodes"]);
    assert!(nodes.ok().lines().any(|l| l.starts_with("first ") && l.contains("alive")), "{nodes:?}");
    let placements = call(&readonly, "placements", json!({}), Duration::from_secs(10)).expect("answered");
    assert_eq!(placements["placements"], json!([]), "{placements}");

    let refused = circusctl(&readonly, &["incr", "first:dummy"]);
    assert!(refused.stderr.contains(r#"command "incr" is not allowed on the read-only endpoint"#), "{refused:?}");
    for (command, props) in [
        ("incr", json!({"name": "first:dummy"})),
        ("add", json!({"name": "first:evil", "cmd": "sleep 1"})),
        ("quit", json!({})),
        ("drain", json!({"node": "first"})),
        (
            "register_node",
            json!({"name": "rogue", "endpoint": "tcp://127.0.0.1:9", "stats_endpoint": "tcp://127.0.0.1:10"}),
        ),
    ] {
        let reply = call(&readonly, command, props, Duration::from_secs(10)).expect("answered");
        assert_eq!(reply["errno"], 3, "{command}: {reply}");
        let reason = reply["reason"].as_str().unwrap_or_default();
        assert!(reason.starts_with(&format!("command \"{command}\" is not allowed")), "{reason}");
        assert!(reason.contains("allowed: status, list"), "{reason}");
    }
    // Nothing changed, and the master still runs.
    assert_eq!(first.numprocesses("dummy"), 1);
    assert!(!first.watcher_names().iter().any(|w| w == "evil"));
    assert!(master.node_entry("rogue").is_none());
    assert_eq!(master.call("numwatchers", json!({}))["status"], "ok");
}

#[test]
fn max_message_size_refuses_a_large_request_and_serves_others() {
    let master = Master::start_with_config(&cluster_with("max_message_size = 1024\n"));
    let big = json!({"command": "nodes", "properties": {"padding": "x".repeat(2048)}, "id": "big"}).to_string();
    let client = master.client(Duration::from_secs(10));
    client.send_raw(big.as_bytes()).expect("send");
    let bytes = client.recv_raw(Instant::now() + Duration::from_secs(10)).expect("an answer to the large request");
    let reply: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON reply");
    assert_eq!((reply["status"].as_str(), reply["errno"].as_u64()), (Some("error"), Some(3)), "{reply}");
    let reason = reply["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("too large") && reason.contains("1024"), "{reason}");
    // The same connection and any other are still served.
    let small = json!({"command": "nodes", "properties": {}, "id": "small"}).to_string();
    client.send_raw(small.as_bytes()).expect("send");
    let bytes = client.recv_raw(Instant::now() + Duration::from_secs(10)).expect("an answer to the small request");
    assert!(String::from_utf8_lossy(&bytes).contains(r#""status": "ok""#));
    assert_eq!(master.call("nodes", json!({}))["status"], "ok");
}
