//! clusterctl says what the master said (issue 12): every error prints the master's reason,
//! warnings in a reply go to stderr, a silent endpoint is named with the timeout, and an
//! endpoint without a scheme is refused before anything is sent.

use cluster_e2e::cli::clusterctl;
use cluster_e2e::{ports, Cluster};

#[test]
fn unknown_nodes_and_empty_sets_print_the_reason() {
    let c = Cluster::start();
    let run = clusterctl(&["--endpoint", c.ep(), "--node", "zzz", "status"]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stderr.starts_with("error: ") && run.stderr.contains("zzz"), "{run:?}");
    assert_ne!(run.stderr.trim(), "error", "{run:?}");

    let run = clusterctl(&["--endpoint", c.ep(), "--node", "@eu", "status"]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stderr.contains("node set '@eu' matches no node"), "{run:?}");

    // A single watcher's error is a reason too, not circusctl's bare `error`.
    let run = clusterctl(&["--endpoint", c.ep(), "--node", "first", "status", "nope"]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stderr.starts_with("error: ") && run.stderr.contains("nope"), "{run:?}");
}

#[test]
fn a_registration_warning_goes_to_stderr() {
    let c = Cluster::start();
    // Nothing listens there: the node is registered, but its pubsub endpoint cannot be learnt.
    let dead = ports::free_endpoint();
    let stats = ports::free_endpoint();
    let run = clusterctl(&["--endpoint", c.ep(), "register_node", "tmp3", &dead, &stats]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, format!("registered tmp3 ({dead})\n"), "{run:?}");
    assert!(run.stderr.starts_with("warning: pubsub_endpoint unknown: "), "{run:?}");

    let json = clusterctl(&["--endpoint", c.ep(), "--json", "register_node", "tmp3", &dead, &stats]).json();
    assert!(json["warning"].as_str().is_some_and(|w| w.starts_with("pubsub_endpoint unknown")), "{json}");
}

#[test]
fn no_answer_names_the_endpoint_and_the_wait() {
    let silent = ports::free_endpoint();
    let run = clusterctl(&["--endpoint", &silent, "--timeout", "1", "status"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(run.stderr, format!("error: no answer from {silent} within 1s (is clusterd running there?)\n"));
}

#[test]
fn an_endpoint_without_scheme_is_refused_at_once() {
    let run = clusterctl(&["--endpoint", "127.0.0.1:5558", "status"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(
        run.stderr,
        "error: --endpoint 127.0.0.1:5558 has no scheme: write tcp://127.0.0.1:5558 (or ipc://PATH)\n"
    );
    assert_eq!(run.stdout, "");
}
