//! Tests of the state file.

use super::*;

fn spec(name: &str, port: u16) -> NodeSpec {
    NodeSpec {
        name: name.into(),
        endpoint: format!("tcp://127.0.0.1:{port}").parse().unwrap(),
        stats_endpoint: Some(format!("tcp://127.0.0.1:{}", port + 2).parse().unwrap()),
        pubsub_endpoint: None,
        tags: vec!["eu".into()],
    }
}

#[test]
fn saves_and_loads_with_a_last_good_copy() {
    let dir = tempfile::tempdir().unwrap();
    let file = StateFile::new(&dir.path().join("state.json"));
    assert!(file.load().unwrap().is_empty(), "a missing file is an empty state");
    file.save(&[(spec("a", 1000), Source::Registered)]).unwrap();
    file.save(&[(spec("a", 1000), Source::Registered), (spec("b", 2000), Source::Discovered)]).unwrap();
    let loaded = file.load().unwrap();
    assert_eq!(loaded.len(), 2);
    assert_eq!(loaded[1], (spec("b", 2000), Source::Discovered));
    let prev = StateFile::new(&dir.path().join("state.json.prev")).load().unwrap();
    assert_eq!(prev, vec![(spec("a", 1000), Source::Registered)]);
    assert!(!dir.path().join("state.json.tmp").exists());
}

#[test]
fn log_agents_are_saved_beside_their_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let file = StateFile::new(&dir.path().join("state.json"));
    let agents: BTreeMap<String, Endpoint> = [("a".to_string(), "tcp://127.0.0.1:5570".parse().unwrap())].into();
    let nodes = [(spec("a", 1000), Source::Registered), (spec("b", 2000), Source::Registered)];
    file.save_all(&nodes, &agents, serde_json::Value::Null).unwrap();
    assert_eq!(file.load().unwrap(), nodes, "the nodes load as before");
    assert_eq!(file.load_log_agents().unwrap(), agents);
    let text = std::fs::read_to_string(dir.path().join("state.json")).unwrap();
    assert_eq!(text.matches("logs_endpoint").count(), 1, "only a node with an agent has the key: {text}");
    // A file written before (no key at all) loads without agents.
    file.save(&nodes).unwrap();
    assert!(file.load_log_agents().unwrap().is_empty());
}

#[test]
fn a_corrupt_file_names_the_way_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let file = StateFile::new(&path);
    for bad in [
        "{not json",
        r#"{"version": 9, "nodes": []}"#,
        r#"{"version": 1, "nodes": [{"name": "a.b", "endpoint": "tcp://h:1", "stats_endpoint": null, "pubsub_endpoint": null, "source": "registered"}]}"#,
    ] {
        std::fs::write(&path, bad).unwrap();
        let message = file.load().unwrap_err().to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("state.json.prev") && message.contains("--reset-state"), "{message}");
    }
    let aside = file.reset().unwrap().unwrap();
    assert!(aside.ends_with("state.json.corrupt") && !path.exists());
    assert!(file.load().unwrap().is_empty());
}

#[test]
fn planted_symlinks_are_replaced_never_followed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    for planted in ["state.json.tmp", "state.json.prev"] {
        std::os::unix::fs::symlink(&victim, dir.path().join(planted)).unwrap();
    }
    let file = StateFile::new(&path);
    file.save(&[(spec("a", 1000), Source::Registered)]).unwrap();
    file.save(&[(spec("b", 2000), Source::Registered)]).unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious", "a link target was written");
    for written in ["state.json", "state.json.prev"] {
        let meta = std::fs::symlink_metadata(dir.path().join(written)).unwrap();
        assert!(meta.file_type().is_file(), "{written} must be a plain file, not a link");
    }
    assert_eq!(file.load().unwrap(), vec![(spec("b", 2000), Source::Registered)]);
    let prev = StateFile::new(&dir.path().join("state.json.prev")).load().unwrap();
    assert_eq!(prev, vec![(spec("a", 1000), Source::Registered)]);
    assert!(std::fs::symlink_metadata(dir.path().join("state.json.tmp")).unwrap().file_type().is_symlink());
}
