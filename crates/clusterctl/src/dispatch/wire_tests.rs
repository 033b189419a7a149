//! What goes on the wire for each command line, checked against captures of stock circusctl
//! 0.19.0 (a fake ROUTER recorded `command` and `properties` for each of these lines).

use super::{plan, Plan};
use crate::cli;
use clusterd_protocol::pyjson::dumps;

/// `{"command": ..., "properties": ...}` as clusterctl would send for `line`.
fn sent(line: &str) -> String {
    let parsed = cli::parse(std::iter::once("clusterctl").chain(line.split_whitespace()))
        .unwrap_or_else(|err| panic!("{line}: {}", err.render()));
    match plan(&parsed.cli.command) {
        Ok(Plan::Call { request, .. }) => {
            dumps(&serde_json::json!({"command": request.command, "properties": request.properties}))
        }
        Ok(Plan::Listen { topics, .. }) => format!("listen {topics:?}"),
        Ok(Plan::Top(args)) => format!("top {args:?}"),
        Ok(Plan::Join(args)) => format!("join {}", args.ini.display()),
        Ok(Plan::Run(args)) => format!("run {args:?}"),
        Ok(Plan::Completions(shell)) => format!("completions {shell:?}"),
        Ok(Plan::Dashboard(args)) => format!("dashboard {args:?}"),
        Ok(Plan::WatchNodes(args)) => format!("watch-nodes {args:?}"),
        Ok(Plan::Logs(args)) => format!("logs {args:?}"),
        Err(usage) => format!("usage: {}", usage.0),
    }
}

/// Lines and the exact JSON circusctl sent for them.
const CAPTURED: &[(&str, &str)] = &[
    (
        "add --start first:new /bin/sleep 100",
        r#"{"command": "add", "properties": {"name": "first:new", "cmd": "/bin/sleep 100", "start": true}}"#,
    ),
    (
        "add first:new /bin/sleep 100",
        r#"{"command": "add", "properties": {"name": "first:new", "cmd": "/bin/sleep 100", "start": false}}"#,
    ),
    ("decr dummy", r#"{"command": "decr", "properties": {"name": "dummy", "waiting": false}}"#),
    ("decr dummy 2 --waiting", r#"{"command": "decr", "properties": {"name": "dummy", "nb": 2, "waiting": true}}"#),
    ("incr dummy 3 --waiting", r#"{"command": "incr", "properties": {"name": "dummy", "nb": 3, "waiting": true}}"#),
    ("incr dummy", r#"{"command": "incr", "properties": {"name": "dummy", "waiting": false}}"#),
    ("dstats", r#"{"command": "dstats", "properties": {}}"#),
    (
        "get dummy numprocesses cmd",
        r#"{"command": "get", "properties": {"name": "dummy", "keys": ["numprocesses", "cmd"]}}"#,
    ),
    ("globaloptions", r#"{"command": "globaloptions", "properties": {}}"#),
    ("globaloptions endpoint", r#"{"command": "globaloptions", "properties": {"option": "endpoint"}}"#),
    ("ipython", r#"{"command": "ipython", "properties": {}}"#),
    (
        "kill dummy 1234 --signum 9 --graceful_timeout 3",
        r#"{"command": "kill", "properties": {"name": "dummy", "pid": "1234", "signum": "9", "graceful_timeout": "3"}}"#,
    ),
    ("kill dummy --waiting", r#"{"command": "kill", "properties": {"name": "dummy"}}"#),
    ("kill dummy", r#"{"command": "kill", "properties": {"name": "dummy"}}"#),
    ("list", r#"{"command": "list", "properties": {}}"#),
    ("list dummy", r#"{"command": "list", "properties": {"name": "dummy"}}"#),
    ("listsockets", r#"{"command": "listsockets", "properties": {}}"#),
    ("numprocesses", r#"{"command": "numprocesses", "properties": {}}"#),
    ("numprocesses dummy", r#"{"command": "numprocesses", "properties": {"name": "dummy"}}"#),
    ("numwatchers", r#"{"command": "numwatchers", "properties": {}}"#),
    ("options dummy", r#"{"command": "options", "properties": {"name": "dummy"}}"#),
    ("quit", r#"{"command": "quit", "properties": {"waiting": false}}"#),
    ("quit --waiting", r#"{"command": "quit", "properties": {"waiting": true}}"#),
    ("reload", r#"{"command": "reload", "properties": {"graceful": true, "waiting": false, "sequential": false}}"#),
    (
        "reload dummy --sequential --terminate",
        r#"{"command": "reload", "properties": {"name": "dummy", "graceful": false, "waiting": false, "sequential": true}}"#,
    ),
    (
        "reload dummy --waiting",
        r#"{"command": "reload", "properties": {"name": "dummy", "graceful": true, "waiting": true, "sequential": false}}"#,
    ),
    ("reloadconfig", r#"{"command": "reloadconfig", "properties": {"waiting": false}}"#),
    ("reloadconfig --waiting", r#"{"command": "reloadconfig", "properties": {"waiting": true}}"#),
    ("restart", r#"{"command": "restart", "properties": {"waiting": false, "match": "glob"}}"#),
    (
        "restart dummy --waiting --match regex",
        r#"{"command": "restart", "properties": {"name": "dummy", "waiting": true, "match": "regex"}}"#,
    ),
    ("rm dummy --nostop --waiting", r#"{"command": "rm", "properties": {"name": "dummy"}}"#),
    (
        "set dummy numprocesses 3 send_hup yes graceful_timeout 2 --waiting",
        r#"{"command": "set", "properties": {"name": "dummy", "waiting": true, "options": {"numprocesses": 3, "send_hup": true, "graceful_timeout": 2.0}}}"#,
    ),
    (
        "set dummy stop_signal HUP warmup_delay 1 stdout_stream.max_bytes 10 hooks before_start:a.b,after_stop:c.d",
        r#"{"command": "set", "properties": {"name": "dummy", "options": {"stop_signal": 1, "warmup_delay": 1.0, "stdout_stream.max_bytes": 10, "hooks": {"before_start": "a.b", "after_stop": "c.d"}}}}"#,
    ),
    (
        "signal dummy HUP",
        r#"{"command": "signal", "properties": {"name": "dummy", "children": false, "recursive": false, "signum": "HUP"}}"#,
    ),
    (
        "signal dummy 1234 9 --children --recursive",
        r#"{"command": "signal", "properties": {"name": "dummy", "children": true, "recursive": true, "signum": "9", "pid": 1234}}"#,
    ),
    ("start", r#"{"command": "start", "properties": {"waiting": false, "match": "glob"}}"#),
    (
        "start dummy --waiting",
        r#"{"command": "start", "properties": {"name": "dummy", "waiting": true, "match": "glob"}}"#,
    ),
    ("stats", r#"{"command": "stats", "properties": {"extended": false}}"#),
    (
        "stats --extended dummy 1234",
        r#"{"command": "stats", "properties": {"name": "dummy", "process": 1234, "extended": true}}"#,
    ),
    ("stats dummy", r#"{"command": "stats", "properties": {"name": "dummy", "extended": false}}"#),
    ("status", r#"{"command": "status", "properties": {}}"#),
    ("status dummy", r#"{"command": "status", "properties": {"name": "dummy"}}"#),
    ("stop", r#"{"command": "stop", "properties": {"waiting": false, "match": "glob"}}"#),
    (
        "stop first:* --match glob",
        r#"{"command": "stop", "properties": {"name": "first:*", "waiting": false, "match": "glob"}}"#,
    ),
];

#[test]
fn every_command_sends_what_circusctl_sends() {
    for (line, expected) in CAPTURED {
        assert_eq!(sent(line), *expected, "{line}");
    }
}

#[test]
fn cluster_commands_send_their_properties() {
    let cases = [
        (
            "register_node second tcp://127.0.0.1:6555 tcp://127.0.0.1:6557",
            r#"{"command": "register_node", "properties": {"name": "second", "endpoint": "tcp://127.0.0.1:6555", "stats_endpoint": "tcp://127.0.0.1:6557"}}"#,
        ),
        (
            "register_node second tcp://h:1 tcp://h:3 tcp://h:2",
            r#"{"command": "register_node", "properties": {"name": "second", "endpoint": "tcp://h:1", "stats_endpoint": "tcp://h:3", "pubsub_endpoint": "tcp://h:2"}}"#,
        ),
        ("unregister_node second", r#"{"command": "unregister_node", "properties": {"name": "second"}}"#),
        (
            "register_node --secret s3 second tcp://h:1 tcp://h:3",
            r#"{"command": "register_node", "properties": {"name": "second", "endpoint": "tcp://h:1", "stats_endpoint": "tcp://h:3", "secret": "s3"}}"#,
        ),
        (
            "unregister_node second --secret s3",
            r#"{"command": "unregister_node", "properties": {"name": "second", "secret": "s3"}}"#,
        ),
        ("nodes", r#"{"command": "nodes", "properties": {}}"#),
        ("nodelist", r#"{"command": "nodelist", "properties": {}}"#),
        ("listen", r#"listen [""]"#),
        ("listen watcher.a. watcher.b.", r#"listen ["watcher.a.", "watcher.b."]"#),
    ];
    for (line, expected) in cases {
        assert_eq!(sent(line), expected, "{line}");
    }
}

#[test]
fn commands_refuse_bad_arguments_before_sending() {
    let cases = [
        ("set dummy numprocesses", "usage: Invalid number of arguments"),
        ("set dummy numprocesses 3 shell", "usage: List of key/values is invalid"),
        ("set dummy bogus 3", "usage: unknown key 'bogus'"),
        ("signal dummy x HUP", "usage: invalid literal for int() with base 10: 'x'"),
    ];
    for (line, expected) in cases {
        assert_eq!(sent(line), expected, "{line}");
    }
}
