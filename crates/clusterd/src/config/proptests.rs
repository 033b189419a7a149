//! Properties of the configuration parsers: arbitrary text never panics (it is a config or an
//! error naming the file), and generated valid configs, TOML or 2012 INI, parse to the values
//! written.

use std::path::Path;
use std::time::Duration;

use proptest::prelude::*;

use super::*;

/// Lines that look like a config: known and unknown sections, keys and values.
fn config_soup() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        Just("[cluster]".to_string()),
        Just("[circus-cluster]".to_string()),
        "\\[node[.:][a-z.!@ ]{0,6}\\]",
        "[a-z_]{1,20} = \"?[a-z0-9:/.*\\[\\], \"-]{0,30}\"?",
        "(endpoint|stats_endpoint|node_timeout|heartbeat|down_after|discover|tags|state_file) = .{0,24}",
        ".{0,30}",
    ];
    prop::collection::vec(line, 0..12).prop_map(|lines| lines.join("\n"))
}

/// A generated valid configuration: node names, a base port, timeouts in seconds.
#[derive(Debug, Clone)]
struct Written {
    nodes: Vec<String>,
    base_port: u16,
    node_timeout: u64,
    heartbeat_ms: u64,
    down_after: u32,
}

fn written() -> impl Strategy<Value = Written> {
    (prop::collection::btree_set("n[a-z0-9_-]{0,8}", 0..6), 1024u16..60_000, 1u64..600, 10u64..10_000, 1u32..20)
        .prop_map(|(nodes, base_port, node_timeout, heartbeat_ms, down_after)| Written {
            nodes: nodes.into_iter().collect(),
            base_port,
            node_timeout,
            heartbeat_ms,
            down_after,
        })
}

fn endpoint(port: u32) -> String {
    format!("tcp://127.0.0.1:{port}")
}

/// Checks that `config` holds what `w` wrote.
fn holds(config: &Config, w: &Written) -> Result<(), TestCaseError> {
    let base = u32::from(w.base_port);
    prop_assert_eq!(config.cluster.endpoint.as_str(), endpoint(base));
    prop_assert_eq!(config.cluster.stats_endpoint.as_str(), endpoint(base + 1));
    prop_assert_eq!(config.cluster.node_timeout, Duration::from_secs(w.node_timeout));
    prop_assert_eq!(config.cluster.heartbeat, Duration::from_millis(w.heartbeat_ms));
    prop_assert_eq!(config.cluster.down_after, w.down_after);
    let names: Vec<&str> = config.nodes.iter().map(|n| n.name.as_str()).collect();
    let mut wanted: Vec<&str> = w.nodes.iter().map(String::as_str).collect();
    let mut got = names.clone();
    got.sort_unstable();
    wanted.sort_unstable();
    prop_assert_eq!(got, wanted);
    for node in &config.nodes {
        let i = w.nodes.iter().position(|n| *n == node.name).expect("written") as u32;
        prop_assert_eq!(node.endpoint.as_str(), endpoint(base + 10 + 3 * i));
        prop_assert_eq!(
            node.stats_endpoint.as_ref().map(|e| e.as_str().to_string()),
            Some(endpoint(base + 11 + 3 * i))
        );
    }
    Ok(())
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in ".{0,300}") {
        let _ = Config::parse(Path::new("cluster.toml"), &text);
        let _ = Config::parse(Path::new("cluster.ini"), &text);
    }

    #[test]
    fn config_shaped_soup_never_panics(text in config_soup()) {
        if let Err(err) = Config::parse(Path::new("cluster.toml"), &text) {
            prop_assert!(err.to_string().starts_with("cluster.toml"), "{}", err);
        }
        if let Err(err) = Config::parse(Path::new("cluster.ini"), &text) {
            prop_assert!(err.to_string().starts_with("cluster.ini"), "{}", err);
        }
    }

    #[test]
    fn written_toml_parses_to_its_values(w in written()) {
        let base = u32::from(w.base_port);
        let mut text = format!(
            "[cluster]\nendpoint = \"{}\"\nstats_endpoint = \"{}\"\npubsub_endpoint = \"{}\"\n\
             node_timeout = \"{}s\"\nheartbeat = \"{}ms\"\ndown_after = {}\n",
            endpoint(base), endpoint(base + 1), endpoint(base + 2), w.node_timeout, w.heartbeat_ms, w.down_after
        );
        for (i, name) in w.nodes.iter().enumerate() {
            let i = i as u32;
            text.push_str(&format!(
                "\n[node.{name}]\nendpoint = \"{}\"\nstats_endpoint = \"{}\"\npubsub_endpoint = \"{}\"\n",
                endpoint(base + 10 + 3 * i), endpoint(base + 11 + 3 * i), endpoint(base + 12 + 3 * i)
            ));
        }
        let config = Config::parse(Path::new("cluster.toml"), &text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        holds(&config, &w)?;
    }

    #[test]
    fn written_ini_parses_to_its_values(w in written()) {
        let base = u32::from(w.base_port);
        let mut text = format!(
            "[circus-cluster]\nendpoint = {}\nstats_endpoint = {}\npubsub_endpoint = {}\n\
             node_timeout = {}s\nheartbeat = {}ms\ndown_after = {}\n",
            endpoint(base), endpoint(base + 1), endpoint(base + 2), w.node_timeout, w.heartbeat_ms, w.down_after
        );
        for (i, name) in w.nodes.iter().enumerate() {
            let i = i as u32;
            text.push_str(&format!(
                "\n[node:{name}]\nendpoint = {}\nstats_endpoint = {}\npubsub_endpoint = {}\n",
                endpoint(base + 10 + 3 * i), endpoint(base + 11 + 3 * i), endpoint(base + 12 + 3 * i)
            ));
        }
        let config = Config::parse(Path::new("cluster.ini"), &text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        holds(&config, &w)?;
    }
}
