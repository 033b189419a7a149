//! The dashboard in a real headless Chromium (tests/browser/driver.js, playwright-core) against
//! real circusd nodes and clusterd: the page shows both nodes and their watchers and updates
//! them live, its buttons act (checked with circusctl), a node killed with `kill -9` turns
//! down without a reload, and the page reconnects after clusterd restarts. Each test keeps
//! screenshots in tests/browser/artifacts/<test>/.

use std::time::Duration;

use cluster_e2e::browser::Browser;
use cluster_e2e::cli::circusctl;
use cluster_e2e::http::dashboard_cluster;
use cluster_e2e::wait_for;

/// Generous: the machine is shared and noisy.
const LONG: Duration = Duration::from_secs(30);

fn node_state(node: &str) -> String {
    format!("#nodes tr[data-key=\"{node}\"] [data-field=\"state\"]")
}

fn watcher_field(key: &str, field: &str) -> String {
    format!("#watchers tr[data-key=\"{key}\"] [data-field=\"{field}\"]")
}

fn button(key: &str, scope: &str, action: &str) -> String {
    format!("#watchers tr[data-key=\"{key}\"] button[data-scope=\"{scope}\"][data-action=\"{action}\"]")
}

fn wait_circusctl(endpoint: &str, args: &[&str], want: &str) {
    wait_for(&format!("circusctl {args:?} to say {want}"), || {
        let out = circusctl(endpoint, args);
        if out.stdout.trim() == want {
            Ok(())
        } else {
            Err(format!("{out:?}"))
        }
    });
}

#[test]
fn the_page_shows_the_cluster_and_its_buttons_act() {
    let (cluster, addr) = dashboard_cluster("");
    let mut page = Browser::open(&format!("http://{addr}/"), "page_and_buttons");
    page.wait_text(LONG, &node_state("first"), "alive");
    page.wait_text(LONG, &node_state("second"), "alive");
    page.wait_text(LONG, &watcher_field("first/dummy", "processes"), "1");
    page.wait_text(LONG, &watcher_field("second/dummy2", "processes"), "2");
    page.screenshot("cluster");

    page.click(&button("second/dummy2", "node", "stop"));
    page.wait_text(LONG, "#outcome", "HTTP 200");
    wait_circusctl(cluster.ep(), &["status", "second:dummy2"], "stopped");
    page.wait_text(LONG, &watcher_field("second/dummy2", "status"), "stopped");
    assert_eq!(cluster.first.status("dummy"), "active");

    // incr on every node: `first` has `dummy` and grows, `second` answers with its error.
    page.click(&button("first/dummy", "all", "incr"));
    page.wait_text(LONG, "#outcome", "\"second\"");
    wait_circusctl(cluster.ep(), &["numprocesses", "first:dummy"], "2");
    page.wait_text(LONG, &watcher_field("first/dummy", "processes"), "2");
    page.screenshot("after-stop-and-incr");
    assert_eq!(page.loads(), 1, "everything came live, without a reload");
}

#[test]
fn a_killed_node_turns_down_on_the_page_without_reload() {
    // Probes every 500 ms, down after 3 missed: the master knows within about 2 s.
    let (mut cluster, addr) = dashboard_cluster("heartbeat = \"500ms\"");
    let mut page = Browser::open(&format!("http://{addr}/"), "node_down");
    page.wait_text(LONG, &node_state("first"), "alive");
    page.wait_text(LONG, "#conn", "live");
    cluster.first.kill9();
    page.wait_text(Duration::from_secs(4), &node_state("first"), "down");
    page.screenshot("first-down");
    assert_eq!(page.loads(), 1);
}

#[test]
fn the_page_reconnects_after_clusterd_restarts() {
    let (mut cluster, addr) = dashboard_cluster("");
    let mut page = Browser::open(&format!("http://{addr}/"), "reconnect");
    page.wait_text(LONG, &node_state("second"), "alive");
    page.wait_text(LONG, "#conn", "live");
    cluster.master.kill9();
    page.wait_text(LONG, "#conn", "reconnecting");
    page.screenshot("clusterd-gone");
    cluster.master.restart();
    page.wait_text(LONG, "#conn", "live");
    page.wait_text(LONG, &node_state("second"), "alive");
    page.wait_text(LONG, &watcher_field("second/dummy2", "processes"), "2");
    page.click(&button("second/dummy2", "node", "stop"));
    wait_circusctl(cluster.ep(), &["status", "second:dummy2"], "stopped");
    page.screenshot("reconnected");
    assert_eq!(page.loads(), 1, "the page reconnected by itself");
}

#[test]
fn with_http_token_the_page_asks_once_and_keeps_it_for_the_tab() {
    let (cluster, addr) = dashboard_cluster("http_token = \"s3cret-token\"");
    let mut page = Browser::open_answering(&format!("http://{addr}/"), "token", "s3cret-token");
    // The live feed and the buttons carry the token the user typed.
    page.wait_text(LONG, "#conn", "live");
    page.wait_text(LONG, &node_state("second"), "alive");
    page.wait_text(LONG, &watcher_field("second/dummy2", "processes"), "2");
    page.click(&button("second/dummy2", "node", "stop"));
    page.wait_text(LONG, "#outcome", "HTTP 200");
    wait_circusctl(cluster.ep(), &["status", "second:dummy2"], "stopped");
    page.screenshot("token-accepted");
    assert_eq!(page.prompts(), 1, "asked for the token once");

    // A reload in the same tab keeps it (session storage): no second question, still live.
    page.reload();
    page.wait_text(LONG, "#conn", "live");
    page.wait_text(LONG, &watcher_field("second/dummy2", "status"), "stopped");
    assert_eq!((page.prompts(), page.loads()), (1, 2), "one question over two loads");
}

#[test]
fn a_wrong_http_token_is_said_and_forgotten_so_a_reload_asks_again() {
    let (cluster, addr) = dashboard_cluster("http_token = \"s3cret-token\"");
    let mut page = Browser::open_answering(&format!("http://{addr}/"), "wrong_token", "not-the-token");
    page.wait_text(LONG, "#conn", "token refused");
    page.screenshot("token-refused");
    // The buttons carry the same wrong token: refused, nothing changes on the node.
    page.fill("#set-watcher", "dummy2");
    page.fill("#set-nodes", "second");
    page.click(&button_any("stop"));
    page.wait_text(LONG, "#outcome", "HTTP 401");
    assert_eq!(cluster.second.status("dummy2"), "active");
    page.reload();
    page.wait_text(LONG, "#conn", "token refused");
    assert_eq!(page.prompts(), 2, "the refused token was forgotten, so the reload asked again");
}

/// The `action` button for the watcher and node set typed in the boxes.
fn button_any(action: &str) -> String {
    format!("button[data-scope=\"set\"][data-action=\"{action}\"]")
}
