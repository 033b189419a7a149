use std::path::Path;
use std::time::Duration;

use super::*;

fn toml(text: &str) -> Result<Config, ConfigError> {
    Config::parse(Path::new("cluster.toml"), text)
}

#[test]
fn reads_the_documented_toml() {
    let config = toml(
        r#"
[cluster]
endpoint = "tcp://127.0.0.1:5558"
stats_endpoint = "tcp://127.0.0.1:5559"
pubsub_endpoint = "tcp://127.0.0.1:5560"
node_timeout = "4s"

[node.first]
endpoint = "tcp://127.0.0.1:5555"
pubsub_endpoint = "tcp://127.0.0.1:5556"
stats_endpoint = "tcp://127.0.0.1:5557"
"#,
    )
    .unwrap();
    assert_eq!(config.cluster.node_timeout, Duration::from_secs(4));
    assert_eq!(config.nodes.len(), 1);
    assert_eq!(config.nodes[0].name, "first");
    assert_eq!(config.nodes[0].stats_endpoint.as_ref().unwrap().port(), Some(5557));
}

#[test]
fn reads_the_2012_ini_unchanged() {
    let text = "[circus-cluster]\nendpoint = tcp://127.0.0.1:5558\nstats_endpoint = tcp://127.0.0.1:5559\n\n\
                [node:first]\nendpoint = tcp://127.0.0.1:5555\npubsub_endpoint = tcp://127.0.0.1:5556\n\
                stats_endpoint = tcp://127.0.0.1:5557\n";
    let config = Config::parse(Path::new("prototype1.ini"), text).unwrap();
    assert_eq!(config.cluster.stats_endpoint.port(), Some(5559));
    assert_eq!(config.nodes[0].pubsub_endpoint.as_ref().unwrap().port(), Some(5556));
}

#[test]
fn errors_name_the_key_and_why() {
    let cases = [
        ("[cluster]\nbogus = 1\n", "cluster.bogus: unknown key"),
        ("[cluster]\nendpoint = \"127.0.0.1:1\"\n", "cluster.endpoint: bad endpoint"),
        ("[cluster]\nnode_timeout = \"4 parsecs\"\n", "cluster.node_timeout: bad duration"),
        ("[cluster]\nnode_timeout = 1.5\n", "cluster.node_timeout: expected a string, got a float"),
        ("[cluster]\nnode_timeout = true\n", "cluster.node_timeout: bad duration 'true'"),
        ("[node.\"a.b\"]\nendpoint = \"tcp://127.0.0.1:1\"\n", "node.a.b: node name 'a.b' contains '.'"),
        ("[node.\"a:b\"]\nendpoint = \"tcp://127.0.0.1:1\"\n", "contains ':'"),
        ("[node.x]\npubsub_endpoint = \"tcp://127.0.0.1:1\"\n", "node.x.endpoint: missing"),
        ("[node.x]\nendpoint = \"tcp://127.0.0.1:1\"\nport = 3\n", "node.x.port: unknown key"),
        ("[nodes.x]\n", "nodes: unknown section"),
        ("[cluster\n", "line 1: invalid TOML"),
        (
            "[node.x]\nendpoint = \"tcp://127.0.0.1:1\"\nstats_endpoint = \"tcp://localhost:5559\"\n",
            "node.x.stats_endpoint: tcp://localhost:5559 is the master's own stats_endpoint",
        ),
    ];
    for (text, expected) in cases {
        let err = toml(text).unwrap_err().to_string();
        assert!(err.starts_with("cluster.toml: "), "{err}");
        assert!(err.contains(expected), "{text:?} gave {err:?}, expected {expected:?}");
        assert!(!err.contains('\n'), "one line: {err:?}");
    }
}

#[test]
fn ini_errors_name_the_section() {
    let err = Config::parse(Path::new("c.ini"), "[node:a.b]\nendpoint = tcp://127.0.0.1:1\n").unwrap_err();
    assert!(err.to_string().contains("node:a.b"), "{err}");
    let err = Config::parse(Path::new("c.ini"), "[watcher:x]\ncmd = ls\n").unwrap_err();
    assert!(err.to_string().contains("unknown section"), "{err}");
}

#[test]
fn missing_file_is_named() {
    let err = Config::load(Path::new("/nonexistent/cluster.toml")).unwrap_err();
    assert!(err.to_string().starts_with("/nonexistent/cluster.toml: cannot read"), "{err}");
}

#[test]
fn node_tags_in_both_forms() {
    let config = toml("[node.a]\nendpoint = \"tcp://127.0.0.1:1\"\ntags = [\"eu\", \"canary\"]\n").unwrap();
    assert_eq!(config.nodes[0].tags, ["eu", "canary"]);
    let config = Config::parse(Path::new("c.ini"), "[node:a]\nendpoint = tcp://127.0.0.1:1\ntags = eu, gpu\n").unwrap();
    assert_eq!(config.nodes[0].tags, ["eu", "gpu"]);
    let err = toml("[node.a]\nendpoint = \"tcp://127.0.0.1:1\"\ntags = [\"e u\"]\n").unwrap_err();
    assert!(err.to_string().contains("node.a.tags: tag 'e u'"), "{err}");
}

#[test]
fn access_keys_default_to_safe() {
    let config = toml("").unwrap();
    assert_eq!(config.cluster.max_message_size, clusterd_protocol::message::DEFAULT_MAX_MESSAGE_SIZE);
    assert!(!config.cluster.allow_remote);
    assert_eq!(config.cluster.readonly_endpoint, None);
    assert_eq!(config.cluster.register_secret, None);
    assert_eq!(config.cluster.audit_log, None);
    assert!(config.cluster.bound_endpoints().iter().all(|(_, ep)| ep.is_local()));
}

#[test]
fn access_keys_in_both_forms() {
    let config = toml(
        "[cluster]\nmax_message_size = 4096\nallow_remote = true\nendpoint = \"tcp://0.0.0.0:5558\"\n\
         readonly_endpoint = \"ipc:///run/clusterd/ro.sock\"\nregister_secret = \"s3cret\"\naudit_log = \"audit.jsonl\"\n",
    )
    .unwrap();
    let cluster = &config.cluster;
    assert_eq!(cluster.max_message_size, 4096);
    assert!(cluster.allow_remote);
    assert_eq!(cluster.readonly_endpoint.as_ref().map(|ep| ep.as_str()), Some("ipc:///run/clusterd/ro.sock"));
    assert!(cluster.register_secret.as_ref().is_some_and(|s| s.expose() == "s3cret"));
    assert!(!format!("{cluster:?}").contains("s3cret"), "the secret stays out of Debug");
    // Relative to the configuration file, like the state file.
    let config =
        Config::parse(Path::new("/etc/clusterd/cluster.toml"), "[cluster]\naudit_log = \"audit.jsonl\"\n").unwrap();
    assert_eq!(config.cluster.audit_log.as_deref(), Some(Path::new("/etc/clusterd/audit.jsonl")));

    let text = "[circus-cluster]\nendpoint = tcp://127.0.0.1:5558\nmax_message_size = 2048 ; bytes\n\
                allow_remote = yes\nreadonly_endpoint = tcp://127.0.0.1:5561\nregister_secret = abc\n\
                audit_log = /var/log/clusterd-audit.jsonl\n";
    let config = Config::parse(Path::new("c.ini"), text).unwrap();
    assert_eq!(config.cluster.max_message_size, 2048);
    assert!(config.cluster.allow_remote);
    assert_eq!(config.cluster.readonly_endpoint.as_ref().and_then(|ep| ep.port()), Some(5561));
    assert!(config.cluster.register_secret.as_ref().is_some_and(|s| s.matches("abc")));
    assert_eq!(config.cluster.audit_log.as_deref(), Some(Path::new("/var/log/clusterd-audit.jsonl")));
    // Empty values mean "not set".
    let config = toml("[cluster]\nreadonly_endpoint = \"\"\nregister_secret = \"\"\naudit_log = \"\"\n").unwrap();
    assert_eq!(
        (config.cluster.readonly_endpoint, config.cluster.register_secret, config.cluster.audit_log),
        (None, None, None)
    );
}

#[test]
fn access_keys_refuse_bad_values() {
    let cases = [
        ("[cluster]\nmax_message_size = 0\n", "cluster.max_message_size: '0' is not a number of bytes from 256"),
        ("[cluster]\nmax_message_size = \"1MiB\"\n", "cluster.max_message_size: '1MiB' is not"),
        ("[cluster]\nmax_message_size = 99999999999\n", "cluster.max_message_size"),
        ("[cluster]\nallow_remote = \"maybe\"\n", "cluster.allow_remote: 'maybe' is not true or false"),
        ("[cluster]\nreadonly_endpoint = \"http://x\"\n", "cluster.readonly_endpoint: bad endpoint"),
        ("[cluster]\nreadonly_endpoint = \"tcp://localhost:5558\"\n", "is also the master's endpoint"),
        ("[cluster]\nregister_secret = [\"a\", \"b\"]\n", "cluster.register_secret: expected one value"),
    ];
    for (text, expected) in cases {
        let err = toml(text).unwrap_err().to_string();
        assert!(err.contains(expected), "{text:?} gave {err:?}, expected {expected:?}");
        assert!(!err.contains('\n'), "one line: {err:?}");
    }
}

#[test]
fn two_master_endpoints_in_one_place_name_both_keys() {
    let err = toml("[cluster]\nendpoint = \"tcp://127.0.0.1:7000\"\nstats_endpoint = \"tcp://localhost:7000\"\n")
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "cluster.toml: cluster.stats_endpoint: tcp://localhost:7000 is also the master's endpoint: endpoint and \
         stats_endpoint need different addresses"
    );
    let ini = "[circus-cluster]\nstats_endpoint = ipc:///tmp/x\npubsub_endpoint = ipc:///tmp/x\n";
    let err = Config::parse(Path::new("c.ini"), ini).unwrap_err().to_string();
    assert!(
        err.starts_with("c.ini: circus-cluster.pubsub_endpoint: ipc:///tmp/x is also the master's stats_endpoint"),
        "{err}"
    );
    assert!(toml("[cluster]\nendpoint = \"tcp://127.0.0.1:7000\"\nstats_endpoint = \"tcp://127.0.0.1:7001\"\n").is_ok());
}

#[test]
fn remote_endpoints_need_allow_remote() {
    for (key, endpoint) in [
        ("endpoint", "tcp://0.0.0.0:5558"),
        ("endpoint", "tcp://*:5558"),
        ("stats_endpoint", "tcp://192.168.1.10:5559"),
        ("pubsub_endpoint", "tcp://[::]:5560"),
        ("pubsub_endpoint", "tcp://master.example.com:5560"),
        ("readonly_endpoint", "tcp://10.0.0.1:5561"),
    ] {
        let text = format!("[cluster]\n{key} = \"{endpoint}\"\n");
        let err = toml(&text).unwrap_err().to_string();
        assert!(err.starts_with(&format!("cluster.toml: cluster.{key}: {endpoint} can be reached")), "{err}");
        assert!(err.contains("allow_remote = true") && err.contains("docs/security.md"), "{err}");
        assert!(toml(&format!("{text}allow_remote = true\n")).is_ok(), "{text}");
    }
    let err = Config::parse(Path::new("c.ini"), "[circus-cluster]\nendpoint = tcp://0.0.0.0:5558\n").unwrap_err();
    assert!(err.to_string().contains("circus-cluster.endpoint: tcp://0.0.0.0:5558 can be reached"), "{err}");
    for local in [
        "tcp://127.0.0.1:5558",
        "tcp://127.1.2.3:5558",
        "tcp://[::1]:5558",
        "tcp://localhost:5558",
        "ipc:///tmp/c.sock",
    ] {
        assert!(toml(&format!("[cluster]\nendpoint = \"{local}\"\n")).is_ok(), "{local}");
    }
}

#[test]
fn a_node_cannot_be_the_readonly_endpoint() {
    let text =
        "[cluster]\nreadonly_endpoint = \"tcp://127.0.0.1:5561\"\n[node.x]\nendpoint = \"tcp://localhost:5561\"\n";
    let err = toml(text).unwrap_err().to_string();
    assert!(err.contains("node.x.endpoint: tcp://localhost:5561 is the master's own readonly_endpoint"), "{err}");
}

#[test]
fn max_stream_message_size_is_a_bounded_size() {
    assert_eq!(toml("").unwrap().cluster.max_stream_message_size, 65_536);
    assert_eq!(toml("[cluster]\nmax_stream_message_size = 4096\n").unwrap().cluster.max_stream_message_size, 4096);
    for bad in ["10", "9000000", "big"] {
        let err = toml(&format!("[cluster]\nmax_stream_message_size = \"{bad}\"\n")).unwrap_err().to_string();
        assert!(err.contains("max_stream_message_size") && err.contains("from 256 to 8388608"), "{bad}: {err}");
    }
    assert_eq!(crate::streams::queue_limit::low_limit(65_536), 1_024);
    assert_eq!(crate::streams::queue_limit::low_limit(256), 20_000);
    assert_eq!(crate::streams::queue_limit::low_limit(8 * 1024 * 1024), 1_000);
}

#[test]
fn udp_discovery_with_a_secret_needs_discover_trusted() {
    let udp = "[cluster]\ndiscover = [\"udp://127.0.0.1:12027\"]\nregister_secret = \"s\"\n";
    let err = toml(udp).unwrap_err().to_string();
    assert!(err.starts_with("cluster.toml: cluster.discover_trusted: discover = udp://127.0.0.1:12027"), "{err}");
    assert!(err.contains("register_secret") && err.contains("discover_trusted = true"), "{err}");
    assert!(toml(&format!("{udp}discover_trusted = true\n")).unwrap().cluster.discover_trusted);
    // Scans and a UDP target without a secret are as before.
    assert!(toml("[cluster]\ndiscover = [\"tcp://127.0.0.1:5555\"]\nregister_secret = \"s\"\n").is_ok());
    assert!(toml("[cluster]\ndiscover = [\"udp://127.0.0.1:12027\"]\n").is_ok());
}

#[test]
fn a_remote_udp_target_needs_allow_remote() {
    let text = "[cluster]\ndiscover = [\"udp://237.219.251.97:12027\"]\n";
    let err = toml(text).unwrap_err().to_string();
    assert!(
        err.contains("cluster.discover: udp://237.219.251.97:12027") && err.contains("allow_remote = true"),
        "{err}"
    );
    let remote = "endpoint = \"tcp://0.0.0.0:5555\"\nallow_remote = true\n";
    assert!(toml(&text.replace("[cluster]\n", &format!("[cluster]\n{remote}"))).is_ok());
    assert!(toml("[cluster]\ndiscover = [\"udp://[::1]:12027\"]\n").is_ok());
}

#[test]
fn merged_reads_is_partial_unless_strict() {
    assert_eq!(toml("[cluster]\n").unwrap().cluster.merged_reads, MergedReads::Partial);
    let strict = toml("[cluster]\nmerged_reads = \"strict\"\n").unwrap();
    assert_eq!(strict.cluster.merged_reads, MergedReads::Strict);
    let ini = Config::parse(Path::new("cluster.ini"), "[circus-cluster]\nmerged_reads = strict\n").unwrap();
    assert_eq!(ini.cluster.merged_reads, MergedReads::Strict);
    let err = toml("[cluster]\nmerged_reads = \"some\"\n").unwrap_err().to_string();
    assert!(err.contains("cluster.merged_reads: 'some' is not \"partial\" or \"strict\""), "{err}");
}

#[test]
fn one_entry_per_circusd_and_per_name_whatever_its_case() {
    let node = |name: &str, endpoint: &str| format!("[node.{name}]\nendpoint = \"{endpoint}\"\n");
    let twice = format!("{}{}", node("first", "tcp://127.0.0.1:5555"), node("First", "tcp://127.0.0.1:6555"));
    let err = toml(&twice).unwrap_err().to_string();
    // TOML tables come sorted, so `First` is read first.
    assert!(err.contains("node.first: node 'first' differs only in case from node 'First'"), "{err}");
    let same = format!("{}{}", node("first", "tcp://127.0.0.1:5555"), node("second", "tcp://localhost:5555"));
    let err = toml(&same).unwrap_err().to_string();
    assert!(
        err.contains("node.second.endpoint: tcp://localhost:5555 is already node 'first' (tcp://127.0.0.1:5555)"),
        "{err}"
    );
    let ini = "[node:a]\nendpoint = tcp://127.0.0.1:5555\n[node:A]\nendpoint = tcp://127.0.0.1:6555\n";
    let err = Config::parse(Path::new("cluster.ini"), ini).unwrap_err().to_string();
    assert!(err.contains("node:A: node 'A' differs only in case from node 'a'"), "{err}");
    let fine = format!("{}{}", node("first", "tcp://127.0.0.1:5555"), node("second", "tcp://127.0.0.1:5565"));
    assert_eq!(toml(&fine).unwrap().nodes.len(), 2);
}
