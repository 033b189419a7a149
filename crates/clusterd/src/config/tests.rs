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
        ("[cluster]\nnode_timeout = true\n", "cluster.node_timeout: expected a string"),
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
