//! The dashboard's live log pane (issue 16) in a real headless Chromium: a worker whose
//! `printer` watcher writes numbered lines, its `clusterctl join` log agent, a master with
//! `[cluster] logs_endpoint` and `http_endpoint`; opening the pane on the node's page shows a
//! line printed after it opened (so it came live, through the master's feed).

use std::time::Duration;

use cluster_e2e::browser::Browser;
use cluster_e2e::cli::clusterctl;
use cluster_e2e::http::wait_http;
use cluster_e2e::worker::{logging_master_with, logging_worker, FILE_STREAM, PRINTER};
use cluster_e2e::{ports, wait_for, Master};

/// Generous: the machine is shared and noisy.
const LONG: Duration = Duration::from_secs(30);

/// The number of the last `line N` the agent of `node` has read.
fn last_line(master: &Master, node: &str) -> u64 {
    wait_for("a printed line", || {
        let args = [
            "--endpoint",
            master.endpoint.as_str(),
            "--node",
            node,
            "logs",
            "printer",
            "-n",
            "1",
            "--stream",
            "stdout",
        ];
        let out = clusterctl(&args);
        out.stdout.rsplit_once("line ").and_then(|(_, n)| n.trim().parse().ok()).ok_or(format!("{out:?}"))
    })
}

#[test]
fn the_log_pane_shows_a_line_printed_while_it_is_open() {
    let addr = format!("127.0.0.1:{}", ports::free_port());
    let master = logging_master_with(&format!("http_endpoint = \"{addr}\"\n"));
    let _node = logging_worker("lgweb", &master, PRINTER, FILE_STREAM);
    wait_http(&addr);
    let mut page = Browser::open(&format!("http://{addr}/nodes/lgweb"), "log_pane");
    let row = "#watchers tr[data-key=\"lgweb/printer\"]";
    page.wait_text(LONG, &format!("{row} [data-field=\"watcher\"]"), "printer");
    // Lines up to `before` were printed before the pane opened: a later one can only come live.
    let before = last_line(&master, "lgweb");
    page.click(&format!("{row} button[data-log]"));
    page.wait_text(LONG, "#log-title", "lgweb:printer");
    page.wait_text(LONG, "#log-lines", &format!("line {before}"));
    page.wait_text(LONG, "#log-lines", &format!("line {}", before + 10));
    page.screenshot("log-pane");
    assert_eq!(page.loads(), 1, "the lines came live, without a reload");
}
