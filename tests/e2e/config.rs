//! clusterd's configuration: bad files are refused with exit status 2 and one line naming the
//! file and the key; the 2012 INI form works; the configs shipped in `config/` work.

use cluster_e2e::cli::circusctl;
use cluster_e2e::master::{run_to_exit, write_file, CLUSTER_SECTION};
use cluster_e2e::{paths, ports, CircusNode, Master};

fn cluster_section() -> String {
    CLUSTER_SECTION
        .replace("{endpoint}", &ports::free_endpoint())
        .replace("{stats_endpoint}", &ports::free_endpoint())
        .replace("{pubsub_endpoint}", &ports::free_endpoint())
}

fn node(name: &str) -> String {
    format!(
        "\n[node.{name}]\nendpoint = \"{}\"\npubsub_endpoint = \"{}\"\nstats_endpoint = \"{}\"\n",
        ports::free_endpoint(),
        ports::free_endpoint(),
        ports::free_endpoint()
    )
}

#[test]
fn bad_configs_exit_2_with_one_line_naming_file_and_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = format!("{}{}", cluster_section(), node("first"));
    let cases: Vec<(&str, String, &str)> = vec![
        ("unknown-key.toml", good.replace("[cluster]\n", "[cluster]\nbogus_key = 1\n"), "bogus_key"),
        ("unknown-node-key.toml", format!("{good}colour = \"red\"\n"), "colour"),
        (
            "bad-endpoint.toml",
            format!(
                "{}{}",
                cluster_section().replacen("tcp://127.0.0.1:", "tcp://127.0.0.1:notaport", 1),
                node("first")
            ),
            "endpoint",
        ),
        (
            "bad-node-endpoint.toml",
            format!(
                "{}\n[node.first]\nendpoint = \"http://127.0.0.1:1\"\nstats_endpoint = \"{}\"\n",
                cluster_section(),
                ports::free_endpoint()
            ),
            "endpoint",
        ),
        ("bad-duration.toml", good.replace("node_timeout = \"4s\"", "node_timeout = \"soon\""), "node_timeout"),
        ("bad-heartbeat.toml", good.replace("heartbeat = \"1s\"", "heartbeat = \"fast\""), "heartbeat"),
        ("dot-name.toml", format!("{}{}", cluster_section(), node("\"a.b\"")), "a.b"),
        ("colon-name.toml", format!("{}{}", cluster_section(), node("\"a:b\"")), "a:b"),
        ("not-toml.toml", "[cluster\nendpoint = ".to_string(), ""),
    ];
    let mut failures = Vec::new();
    for (file, text, key) in &cases {
        let path = write_file(dir.path(), file, text);
        let out = run_to_exit(&path);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        let shown = path.display().to_string();
        if out.status.code() != Some(2) {
            failures.push(format!("{file}: exit {:?}, expected 2; stderr: {stderr}", out.status.code()));
        } else if lines.len() != 1 {
            failures.push(format!("{file}: expected one stderr line, got {}: {stderr}", lines.len()));
        } else if !lines[0].contains(&shown) || !lines[0].contains(key) {
            failures.push(format!("{file}: the line must name {shown} and {key:?}: {}", lines[0]));
        }
    }
    let missing = dir.path().join("missing.toml");
    let out = run_to_exit(&missing);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() != Some(2) || stderr.lines().count() != 1 || !stderr.contains(&missing.display().to_string()) {
        failures.push(format!("missing file: exit {:?}, stderr: {stderr}", out.status.code()));
    }
    assert!(failures.is_empty(), "bad configs:\n{}", failures.join("\n"));
}

#[test]
fn the_2012_ini_form_works() {
    let first = CircusNode::start("first", &[("dummy", 1)]);
    let second = CircusNode::start("second", &[("dummy2", 2)]);
    let mut ini = "[circus-cluster]\nendpoint = {endpoint}\nstats_endpoint = {stats_endpoint}\npubsub_endpoint = {pubsub_endpoint}\n".to_string();
    for node in [&first, &second] {
        ini.push_str(&format!(
            "\n[node:{}]\nendpoint = {}\npubsub_endpoint = {}\nstats_endpoint = {}\n",
            node.name, node.endpoint, node.pubsub_endpoint, node.stats_endpoint
        ));
    }
    let master = Master::start_with_ini(&ini);
    let out = circusctl(&master.endpoint, &["status"]);
    let text = out.ok();
    assert!(text.contains("first:dummy: active"), "{text}");
    assert!(text.contains("second:dummy2: active"), "{text}");
}

/// A shipped file with its fixed ports swapped for placeholders or fresh ones.
fn shipped(name: &str) -> String {
    let path = paths::workspace_root().join("config").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// True when `line` holds one of the demo's fixed endpoints (tests never use those ports).
fn mentions_a_demo_port(line: &str) -> bool {
    [5555, 5556, 5557, 6555, 6556, 6557, 5558, 5559, 5560, 5580].iter().any(|port| {
        let endpoint = format!("127.0.0.1:{port}");
        line.match_indices(&endpoint)
            .any(|(at, _)| !line[at + endpoint.len()..].starts_with(|c: char| c.is_ascii_digit()))
    })
}

#[test]
fn shipped_configs_work() {
    // second.ini names the master and runs `clusterctl join` on itself: the master's endpoint is
    // chosen before the nodes start, and the join runs the built clusterctl on the node's ini.
    let master_endpoint = ports::free_endpoint();
    let clusterctl = paths::workspace_bin("clusterctl").display().to_string();
    let node_template = |text: String, base: u16| {
        assert!(text.lines().any(|l| l.replace(' ', "") == "multicast_endpoint="), "multicast must be off:\n{text}");
        let text = text
            .replace(&format!("tcp://127.0.0.1:{base}"), "{endpoint}")
            .replace(&format!("tcp://127.0.0.1:{}", base + 1), "{pubsub_endpoint}")
            .replace(&format!("tcp://127.0.0.1:{}", base + 2), "{stats_endpoint}")
            .replace("tcp://127.0.0.1:5558", "{master}")
            .replace("cmd = clusterctl join config/second.ini", "cmd = {clusterctl} join {ini}");
        let settings = text.lines().filter(|l| !l.trim_start().starts_with([';', '#']));
        assert!(!settings.clone().any(|l| l.contains("tcp://")), "fixed endpoint left:\n{text}");
        assert!(!settings.clone().any(|l| l.contains("config/")), "relative path left:\n{text}");
        text.replace("{master}", &master_endpoint).replace("{clusterctl}", &clusterctl)
    };
    let first = CircusNode::start_from_template("first", &node_template(shipped("first.ini"), 5555), &[("dummy", 1)]);
    let second =
        CircusNode::start_from_template("second", &node_template(shipped("second.ini"), 6555), &[("dummy2", 2)]);
    // The demo's dashboard (`make run` turns it on) moves to a free port too.
    let http = format!("127.0.0.1:{}", ports::free_port());
    let master_template = |text: String| {
        let mut text = text
            .replace("\"127.0.0.1:5580\"", &format!("\"{http}\""))
            .replace("tcp://127.0.0.1:5558", "{endpoint}")
            .replace("tcp://127.0.0.1:5559", "{stats_endpoint}")
            .replace("tcp://127.0.0.1:5560", "{pubsub_endpoint}");
        for (node, base) in [(&first, 5555), (&second, 6555)] {
            text = text
                .replace(&format!("tcp://127.0.0.1:{base}"), &node.endpoint)
                .replace(&format!("tcp://127.0.0.1:{}", base + 1), &node.pubsub_endpoint)
                .replace(&format!("tcp://127.0.0.1:{}", base + 2), &node.stats_endpoint);
        }
        text
    };
    let (toml, ini) = (master_template(shipped("cluster.toml")), master_template(shipped("cluster.ini")));
    for text in [&toml, &ini] {
        // Every fixed port was swapped: the test never touches the demo's ports.
        let mut settings = text.lines().filter(|l| !l.trim_start().starts_with([';', '#']));
        assert!(!settings.any(mentions_a_demo_port), "fixed port left:\n{text}");
    }
    // cluster.toml lists `first` only: `second` registers itself with it. cluster.ini lists both.
    let sources = [("config", "registered"), ("config", "config")];
    for (master, sources) in
        [Master::start_at(&master_endpoint, &toml), Master::start_with_ini(&ini)].iter().zip(sources)
    {
        master.wait_node_state("second", "alive");
        let source = |name: &str| master.node_entry(name).map(|entry| entry["source"].clone());
        assert_eq!((source("first"), source("second")), (Some(sources.0.into()), Some(sources.1.into())));
        let out = circusctl(&master.endpoint, &["status"]);
        let text = out.ok();
        assert!(text.contains("first:dummy: active"), "{}: {text}", master.config.display());
        assert!(text.contains("second:dummy2: active"), "{}: {text}", master.config.display());
        // The joined node's own join watcher is part of the cluster too (the README shows it).
        assert!(text.contains("second:cluster-join: active"), "{}: {text}", master.config.display());
        assert_eq!(circusctl(&master.endpoint, &["numprocesses", "second:dummy2"]).ok().trim(), "2");
        // The shipped TOML turns the dashboard on.
        if master.config.extension().is_some_and(|ext| ext == "toml") {
            assert!(toml.contains(&format!("http_endpoint = \"{http}\"")), "{toml}");
            cluster_e2e::http::wait_http(&http);
        }
    }
}

#[test]
fn two_equal_master_endpoints_exit_2_naming_both_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let shared = ports::free_endpoint();
    let text = format!(
        "[cluster]\nendpoint = \"{shared}\"\nstats_endpoint = \"{}\"\npubsub_endpoint = \"{}\"\n",
        shared.replace("127.0.0.1", "localhost"),
        ports::free_endpoint()
    );
    let path = write_file(dir.path(), "same.toml", &text);
    let check = cluster_e2e::cli::run(&paths::workspace_bin("clusterd"), ["--check".as_ref(), path.as_os_str()]);
    let start = run_to_exit(&path);
    let start = (start.status.code(), String::from_utf8_lossy(&start.stderr).to_string());
    for (how, (code, stderr)) in [("--check", (Some(check.code), check.stderr)), ("start", start)] {
        assert_eq!(code, Some(2), "{how}: {stderr}");
        assert!(
            stderr.contains("cluster.stats_endpoint: ")
                && stderr
                    .contains("is also the master's endpoint: endpoint and stats_endpoint need different addresses"),
            "{how}: {stderr}"
        );
        assert!(!stderr.contains("Address already in use"), "{how}: {stderr}");
    }
}
