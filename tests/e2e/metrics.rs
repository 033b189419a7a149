//! `GET /metrics` against real circusd nodes: valid OpenMetrics (read by the Python
//! `prometheus_client` parser from the venv), values equal to what circusctl answers, and a
//! stopped watcher's series gone at the next scrape.

use cluster_e2e::cli::{circusctl, python};
use cluster_e2e::http::{dashboard_cluster, get};
use cluster_e2e::{json, wait_for, Value};

/// Every sample of a scrape as parsed by `prometheus_client`: `[name, labels, value]`.
fn parse(text: &str) -> Vec<Value> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("metrics.txt");
    std::fs::write(&path, text).expect("write scrape");
    let snippet = format!(
        "from prometheus_client.openmetrics.parser import text_string_to_metric_families\n\
         out = []\n\
         for family in text_string_to_metric_families(open({path:?}).read()):\n    \
             for s in family.samples:\n        \
                 out.append([s.name, s.labels, s.value])\n\
         print(json.dumps(out))",
        path = path.display().to_string()
    );
    python(&snippet).as_array().cloned().unwrap_or_default()
}

/// The value of the sample `name` whose labels include `labels`.
fn value(samples: &[Value], name: &str, labels: &Value) -> Option<f64> {
    let wanted = labels.as_object()?;
    samples.iter().find(|s| s[0] == name && wanted.iter().all(|(k, v)| &s[1][k] == v)).and_then(|s| s[2].as_f64())
}

fn numprocesses(endpoint: &str, watcher: &str) -> f64 {
    circusctl(endpoint, &["numprocesses", watcher]).ok().trim().parse().expect("a number")
}

#[test]
fn metrics_parse_and_match_circusctl() {
    let (cluster, addr) = dashboard_cluster("metrics_per_pid = true");
    let scrape = get(&addr, "/metrics");
    assert_eq!(scrape.header("content-type"), Some("application/openmetrics-text; version=1.0.0; charset=utf-8"));
    let dummy2 = json!({"node": "second", "watcher": "dummy2"});
    let samples = wait_for("dummy2's processes in /metrics", || {
        let samples = parse(&get(&addr, "/metrics").body);
        match value(&samples, "clusterd_watcher_processes", &dummy2) {
            Some(2.0) => Ok(samples),
            other => Err(format!("{other:?}")),
        }
    });
    assert_eq!(
        value(&samples, "clusterd_watcher_processes", &dummy2),
        Some(numprocesses(cluster.ep(), "second:dummy2"))
    );
    let dummy = json!({"node": "first", "watcher": "dummy"});
    assert_eq!(value(&samples, "clusterd_watcher_processes", &dummy), Some(numprocesses(cluster.ep(), "first:dummy")));
    for node in ["first", "second"] {
        assert_eq!(value(&samples, "clusterd_node_up", &json!({"node": node})), Some(1.0), "{node}");
        assert_eq!(value(&samples, "clusterd_node_state", &json!({"node": node, "state": "alive"})), Some(1.0));
        assert_eq!(value(&samples, "clusterd_node_state", &json!({"node": node, "state": "down"})), Some(0.0));
        assert!(value(&samples, "clusterd_node_probe_rtt_seconds", &json!({"node": node})).is_some(), "{node}");
        let stats = json!({"node": node, "stream": "stats"});
        assert!(value(&samples, "clusterd_stream_forwarded_total", &stats).unwrap_or(0.0) > 0.0, "{node}");
    }
    // Per-pid series name the pids circusctl lists.
    let mut pids: Vec<String> = samples
        .iter()
        .filter(|s| s[0] == "clusterd_process_memory_bytes" && s[1]["watcher"] == "dummy2")
        .map(|s| s[1]["pid"].as_str().unwrap_or_default().to_string())
        .collect();
    pids.sort();
    let mut listed: Vec<String> = cluster.second.pids("dummy2").iter().map(u64::to_string).collect();
    listed.sort();
    assert_eq!(pids, listed);
    assert!(value(&samples, "clusterd_watcher_memory_bytes", &dummy2).unwrap_or(0.0) > 0.0);
    assert!(value(&samples, "clusterd_requests_in_flight", &json!({})).is_some());

    // The master's own counters: the numprocesses asked above, by command and outcome.
    let samples = parse(&get(&addr, "/metrics").body);
    let asked = json!({"command": "numprocesses", "outcome": "ok"});
    assert!(value(&samples, "clusterd_requests_total", &asked).unwrap_or(0.0) >= 2.0, "{samples:?}");

    // A stopped watcher's series are gone at the next scrape.
    circusctl(cluster.ep(), &["stop", "second:dummy2"]).ok();
    wait_for("dummy2's series to vanish", || {
        let text = get(&addr, "/metrics").body;
        if text.contains("watcher=\"dummy2\"") {
            Err(text)
        } else {
            Ok(())
        }
    });
    let samples = parse(&get(&addr, "/metrics").body);
    assert_eq!(value(&samples, "clusterd_watcher_processes", &dummy), Some(1.0));
}
