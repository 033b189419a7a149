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
