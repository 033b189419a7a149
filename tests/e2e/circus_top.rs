//! Stock circus-top (from the venv) pointed at the master's stats endpoint, in a tmux pane: it
//! shows every node's watchers as `<node>.<watcher>` (circus-protocol.md §5.3) and its painter
//! thread never dies on a missing key.

use cluster_e2e::tmux::{shows_all, Tmux};
use cluster_e2e::{paths, CircusNode, Master};

#[test]
fn circus_top_shows_every_node_through_the_master() {
    let port = cluster_e2e::ports::free_port();
    let first =
        CircusNode::start_with("first", &[("dummy", 1)], &format!("\n[socket:web]\nhost = 127.0.0.1\nport = {port}\n"));
    let second = CircusNode::start("second", &[("dummy2", 2)]);
    let master = Master::start(&[&first, &second]);

    let bin = paths::venv_bin("circus-top");
    let command = format!("exec {} --endpoint {} 2>{{dir}}/stderr", bin.display(), master.stats_endpoint);
    let top = Tmux::start("circus-top", &command);

    let mut wanted: Vec<String> =
        ["first.dummy", "second.dummy2", "first.circus", "second.circus", "sockets"].map(String::from).into();
    wanted.extend(first.pids("dummy").iter().chain(second.pids("dummy2").iter()).map(u64::to_string));
    wanted.push(format!("first/127.0.0.1:{port}"));
    let screen = top.wait_screen("circus-top to paint both nodes' watchers", |s| shows_all(s, &wanted));
    assert!(screen.contains("Circus Top"), "{screen}");

    // The painter redraws every second: a second screen later it is still alive and complete.
    let before = top.screen();
    top.wait_screen("circus-top to repaint", |s| {
        if s == before {
            Err("screen unchanged (ages grow on every paint)".into())
        } else {
            shows_all(s, &wanted)
        }
    });
    let errors = std::fs::read_to_string(top.dir().join("stderr")).unwrap_or_default();
    assert!(!errors.contains("Traceback") && !errors.contains("Error"), "circus-top failed:\n{errors}");
}
