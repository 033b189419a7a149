//! `clusterctl run` passes its command literally (issue 11): circusd expands `$(circus.X)` and
//! `((circus.X))` in a watcher's command and arguments, and clusterctl must keep it from doing so.

use cluster_e2e::cli::{clusterctl, Run};
use cluster_e2e::{retry_busy, CircusNode, Master};

#[test]
fn run_arguments_reach_the_program_literally() {
    let node = CircusNode::start("first", &[("dummy", 1)]);
    let master = Master::start(&[&node]);
    // The job writes its two arguments into a file in the node's folder (circusd's working
    // directory).
    let script = r#"printf '%s|%s|%s' "$1" "$2" "$3" > literal-output"#;
    let args = [
        "--endpoint",
        master.endpoint.as_str(),
        "--timeout",
        "10",
        "--node",
        "first",
        "run",
        "literal",
        "--",
        "sh",
        "-c",
        script,
        "job",
        "$(circus.env.PATH)",
        "((circus.wid))",
        "$(CIRCUS.ENV.HOME) $HOME",
    ];
    let out = retry_busy(|| clusterctl(&args), Run::busy);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("exit 0 (1): first"), "{out:?}");
    let written = std::fs::read_to_string(node.dir().join("literal-output")).unwrap_or_default();
    assert_eq!(written, "$(circus.env.PATH)|((circus.wid))|$(CIRCUS.ENV.HOME) $HOME", "{out:?}");
    let names = node.watcher_names();
    assert!(!names.iter().any(|w| w.starts_with("run-")), "{names:?}");
}
