//! Reading worker inis: defaults, required keys, circusd's value rules, substitution.

use super::*;

/// No environment variables.
fn no_env(_: &str) -> Option<String> {
    None
}

/// Parses `text` as `w.ini` without environment variables.
fn parse(text: &str) -> Result<Worker, WorkerIniError> {
    Worker::parse(text, "w.ini", &no_env)
}

#[test]
fn defaults_are_circusds() {
    let worker = parse("[circus]\nnode = second\nmaster = tcp://127.0.0.1:5558\n").unwrap();
    assert_eq!(
        worker,
        Worker {
            name: "second".into(),
            endpoint: "tcp://127.0.0.1:5555".into(),
            pubsub_endpoint: "tcp://127.0.0.1:5556".into(),
            stats_endpoint: "tcp://127.0.0.1:5557".into(),
            master: "tcp://127.0.0.1:5558".into(),
            tags: None,
            secret: None,
            logs_endpoint: None,
        }
    );
    let props = Value::Object(worker.register_properties());
    assert_eq!(
        props.to_string(),
        r#"{"name":"second","endpoint":"tcp://127.0.0.1:5555","stats_endpoint":"tcp://127.0.0.1:5557","pubsub_endpoint":"tcp://127.0.0.1:5556"}"#
    );
}

#[test]
fn a_full_worker_ini_is_read_as_circusd_reads_it() {
    let text = "; a worker\n# also a comment\nrem this too\n[circus]\nendpoint = tcp://10.0.0.2:6555  ; commands\n\
                pubsub_endpoint: tcp://10.0.0.2:6556\nstats_endpoint = tcp://10.0.0.2:6557\nstatsd = True\n\
                node = web-01\nmaster = tcp://10.0.0.1:5558\ntags = web, eu ,\n\n\
                [watcher:cluster-join]\ncmd = clusterctl join /etc/circus/worker.ini\n\
                hooks.before_start = a.b\n\n[env:cluster-join]\nX = C:\\dir\n";
    let worker = parse(text).unwrap();
    assert_eq!(worker.name, "web-01");
    assert_eq!(worker.endpoint, "tcp://10.0.0.2:6555");
    assert_eq!(worker.pubsub_endpoint, "tcp://10.0.0.2:6556");
    assert_eq!(worker.stats_endpoint, "tcp://10.0.0.2:6557");
    assert_eq!(worker.master, "tcp://10.0.0.1:5558");
    assert_eq!(worker.tags, Some(vec!["web".to_string(), "eu".to_string()]));
    assert_eq!(worker.register_properties()["tags"], json!(["web", "eu"]));
    assert_eq!(parse("[circus]\nnode = a\nmaster = tcp://127.0.0.1:5558\ntags =\n").unwrap().tags, None);
}

#[test]
fn keys_are_read_as_circusds_own_parser_reads_them() {
    // Case-sensitive keys (circusd ignores `Endpoint` and binds its default), first occurrence
    // wins, repeated sections merge, `""` is empty, `;` cuts only after white space.
    let text = "[circus]\nEndpoint = tcp://10.0.0.2:1\nnode = a\nnode = b\n[watcher:x]\ncmd = sleep 1\n\
                [circus]\nmaster = tcp://127.0.0.1:5558;x\nstats_endpoint = \"\"\n";
    let err = parse(text).unwrap_err();
    assert!(err.to_string().contains("master: 'tcp://127.0.0.1:5558;x'"), "{err}");
    let worker = parse(&text.replace(";x", "\t;x").replace("\"\"", "tcp://127.0.0.1:7")).unwrap();
    assert_eq!((worker.name.as_str(), worker.endpoint.as_str()), ("a", DEFAULT_ENDPOINT));
    assert_eq!((worker.master.as_str(), worker.stats_endpoint.as_str()), ("tcp://127.0.0.1:5558", "tcp://127.0.0.1:7"));
    let err = parse("[circus]\nnode = \"\"\nmaster = tcp://127.0.0.1:5558\n").unwrap_err();
    assert!(matches!(err, WorkerIniError::Missing { key: "node", .. }), "{err:?}");
    // DEFAULT applies to [circus] too.
    assert_eq!(parse("[DEFAULT]\nmaster = tcp://m:1\n[circus]\nnode = a\n").unwrap().master, "tcp://m:1");
}

#[test]
fn missing_or_empty_node_and_master_name_the_file_and_key() {
    for (text, key) in [
        ("[circus]\nmaster = tcp://127.0.0.1:5558\n", "node"),
        ("[circus]\nnode =\nmaster = tcp://127.0.0.1:5558\n", "node"),
        ("[circus]\nnode = second\n", "master"),
        ("[watcher:x]\ncmd = sleep 1\n", "node"),
        ("", "node"),
    ] {
        let err = parse(text).unwrap_err();
        assert!(matches!(err, WorkerIniError::Missing { key: k, .. } if k == key), "{text:?}: {err:?}");
        let shown = err.to_string();
        assert!(shown.starts_with("w.ini: [circus] has no '"), "{shown}");
        assert!(shown.contains(&format!("'{key}'")), "{shown}");
    }
}

#[test]
fn bad_values_name_the_key() {
    for (text, key) in [
        ("[circus]\nnode = a.b\nmaster = tcp://127.0.0.1:5558\n", "node"),
        ("[circus]\nnode = a\nmaster = 127.0.0.1:5558\n", "master"),
        ("[circus]\nnode = a\nmaster = tcp://127.0.0.1:5558\nendpoint = tcp://127.0.0.1:5555 # cmd\n", "endpoint"),
        ("[circus]\nnode = a\nmaster = tcp://127.0.0.1:5558\nstats_endpoint = udp://x:1\n", "stats_endpoint"),
    ] {
        let err = parse(text).unwrap_err();
        assert!(matches!(err, WorkerIniError::Invalid { key: k, .. } if k == key), "{text:?}: {err:?}");
        assert!(err.to_string().starts_with(&format!("w.ini: [circus] {key}: ")), "{err}");
    }
}

#[test]
fn a_missing_file_is_named() {
    let err = Worker::read(Path::new("/nonexistent/worker.ini"), &no_env).unwrap_err();
    let shown = err.to_string();
    assert!(shown.starts_with("/nonexistent/worker.ini: cannot read the worker's circusd ini: "), "{shown}");
}

#[test]
fn environment_variables_are_substituted_like_circus() {
    let env = |name: &str| (name.eq_ignore_ascii_case("master_host")).then(|| "10.0.0.1".to_string());
    let text = "[env]\nPORT = 6555\n[circus]\nnode = a\nmaster = tcp://$(circus.env.MASTER_HOST):5558\n\
                endpoint = tcp://127.0.0.1:((CIRCUS.ENV.port))\npubsub_endpoint = tcp://127.0.0.1:6556\n";
    let worker = Worker::parse(text, "w.ini", &env).unwrap();
    assert_eq!(worker.master, "tcp://10.0.0.1:5558");
    assert_eq!(worker.endpoint, "tcp://127.0.0.1:6555");
    // An unknown variable is named, with the key.
    let err = parse("[circus]\nnode = a\nmaster = tcp://$(circus.env.nope):5558\n").unwrap_err();
    let shown = err.to_string();
    assert_eq!(
        shown,
        "w.ini: [circus] master: 'tcp://$(circus.env.nope):5558': environment variable 'nope' is not set"
    );
}

#[test]
fn substitution_leaves_everything_else_alone() {
    let lookup = |name: &str| (name == "x").then(|| "X".to_string());
    for (input, output) in [
        ("plain", "plain"),
        ("$(circus.env.x)", "X"),
        ("a$(circus.env.x)b((circus.env.x))c", "aXbXc"),
        ("$(circus.env.x", "$(circus.env.x"),
        ("((circus.env.x)", "((circus.env.x)"),
        ("$(circus.wid) $ ( (( é$(", "$(circus.wid) $ ( (( é$("),
        ("$((circus.env.x))", "$X"),
    ] {
        assert_eq!(substitute(input, &lookup).as_deref(), Ok(output), "{input}");
    }
    assert_eq!(substitute("$(circus.env.y)", &lookup), Err("environment variable 'y' is not set".into()));
}

#[test]
fn the_secret_goes_with_register_and_unregister() {
    let text =
        "[circus]\nnode = a\nmaster = tcp://127.0.0.1:5558\nsecret = $(circus.env.JOIN_SECRET)  ; the master's\n";
    let env = |name: &str| name.eq_ignore_ascii_case("join_secret").then(|| "s3cret".to_string());
    let worker = Worker::parse(text, "w.ini", &env).unwrap();
    assert_eq!(worker.register_properties()["secret"], json!("s3cret"));
    assert_eq!(Value::Object(worker.unregister_properties()), json!({"name": "a", "secret": "s3cret"}));
    assert!(!format!("{worker:?}").contains("s3cret"), "the secret stays out of Debug");
    let without = parse("[circus]\nnode = a\nmaster = tcp://127.0.0.1:5558\nsecret =\n").unwrap();
    assert_eq!(without.secret, None);
    assert_eq!(Value::Object(without.unregister_properties()), json!({"name": "a"}));
}

#[test]
fn several_masters_are_a_comma_separated_list() {
    let worker = parse("[circus]\nnode = a\nmaster = tcp://10.0.0.1:5558, tcp://10.0.0.2:5558\n").unwrap();
    assert_eq!(worker.masters(), ["tcp://10.0.0.1:5558", "tcp://10.0.0.2:5558"]);
    assert_eq!(
        parse("[circus]\nnode = a\nmaster = tcp://127.0.0.1:5558\n").unwrap().masters(),
        ["tcp://127.0.0.1:5558"]
    );
    let bad = parse("[circus]\nnode = a\nmaster = tcp://10.0.0.1:5558, nonsense\n").unwrap_err();
    assert!(bad.to_string().contains("master"), "{bad}");
}

#[test]
fn logs_endpoint_is_registered_when_set_and_checked() {
    let worker =
        parse("[circus]\nnode = a\nmaster = tcp://127.0.0.1:5558\nlogs_endpoint = tcp://127.0.0.1:5570\n").unwrap();
    assert_eq!(worker.logs_endpoint.as_deref(), Some("tcp://127.0.0.1:5570"));
    assert_eq!(worker.register_properties()["logs_endpoint"], json!("tcp://127.0.0.1:5570"));
    let bad = parse("[circus]\nnode = a\nmaster = tcp://127.0.0.1:5558\nlogs_endpoint = nowhere\n").unwrap_err();
    assert!(bad.to_string().contains("logs_endpoint"), "{bad}");
}
