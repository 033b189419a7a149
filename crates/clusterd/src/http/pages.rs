//! The pages, rendered on the server with the same row markup the script updates in place, so
//! that the first paint is right before any script runs. With `http_token` set the pages carry
//! no cluster data: the script fetches it with the token.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::api::ACTIONS;
use super::Web;
use crate::view::{EventView, NodeView, Snapshot, WatcherView};

/// `GET /`: every node, the node × watcher grid, the event feed, the buttons.
pub async fn index(State(web): State<Web>) -> Markup {
    let snapshot = data(&web);
    let readonly = web.ctx.settings().http.readonly;
    let body = html! {
        section {
            h2 { "Nodes" }
            (nodes_table(&snapshot.nodes))
        }
        section {
            h2 { "Watchers" }
            @if !readonly {
                form #set-form onsubmit="return false" {
                    "Watcher " input #set-watcher placeholder="dummy" size="12";
                    " on nodes " input #set-nodes placeholder="all, @eu, web*" size="16";
                    @for action in ACTIONS { " " button type="button" data-scope="set" data-action=(action) { (action) } }
                }
            }
            (watchers_table(&snapshot.watchers, readonly, true))
            pre #outcome {}
        }
        section {
            h2 { "Events" }
            (events_list(&snapshot.events))
        }
    };
    layout(&web, "clusterd", None, body)
}

/// `GET /nodes/{node}`: its watchers and processes, its events; 404 for a node the master does
/// not know.
pub async fn node(State(web): State<Web>, Path(name): Path<String>) -> Response {
    if !web.ctx.registry.contains(&name) {
        let known = web.ctx.registry.names().join(", ");
        return (StatusCode::NOT_FOUND, format!("unknown node '{name}' (known: {known})")).into_response();
    }
    let mut snapshot = data(&web);
    snapshot.nodes.retain(|n| n.name == name);
    snapshot.watchers.retain(|w| w.node == name);
    snapshot.events.retain(|e| e.node == name);
    let readonly = web.ctx.settings().http.readonly;
    let body = html! {
        p { a href="/" { "← all nodes" } }
        section { h2 { "Node " (name) } (nodes_table(&snapshot.nodes)) }
        section { h2 { "Watchers" } (watchers_table(&snapshot.watchers, readonly, false)) pre #outcome {} }
        section {
            h2 { "Processes" }
            table #procs {
                thead { tr { th { "watcher" } th { "pid" } th { "CPU" } th { "memory" } th { "age" } } }
                tbody {
                    @for w in &snapshot.watchers { @for p in &w.pids {
                        tr { td { (w.watcher) } td { (p.pid) } td { (percent(p.cpu)) } td { (bytes(p.mem_bytes)) } td { (format!("{:.0} s", p.age)) } }
                    } }
                }
            }
        }
        section { h2 { "Events" } (events_list(&snapshot.events)) }
    };
    layout(&web, &format!("clusterd: {name}"), Some(&name), body).into_response()
}

/// The view, or nothing when a token guards the data.
fn data(web: &Web) -> Snapshot {
    if web.ctx.settings().http.token.is_some() {
        return Snapshot { nodes: vec![], watchers: vec![], events: vec![] };
    }
    web.view.snapshot(&web.ctx.registry)
}

fn layout(web: &Web, title: &str, node: Option<&str>, body: Markup) -> Markup {
    let settings = web.ctx.settings();
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) }
                link rel="stylesheet" href="/assets/app.css";
                script src="/assets/app.js" defer {}
            }
            body data-node=[node] data-readonly=(settings.http.readonly) data-token=(settings.http.token.is_some()) {
                header { h1 { a href="/" { "clusterd" } } span #conn { "connecting…" } }
                (body)
                // The live log pane, filled by the script from /api/logs.
                section #log-pane hidden {
                    h2 { "Output of " span #log-title {} " " button type="button" #log-close { "close" } }
                    pre #log-lines {}
                }
                // Rows the script adds are clones of these, so they match the server's.
                template #node-row { (node_row(None)) }
                template #watcher-row { (watcher_row(None, settings.http.readonly, node.is_none())) }
            }
        }
    }
}

fn nodes_table(nodes: &[NodeView]) -> Markup {
    html! {
        table #nodes {
            thead { tr { th { "node" } th { "state" } th { "RTT" } th { "last seen" } th { "circusd pid" } th { "tags" } th { "CPU" } th { "memory" } th { "last 5 min" } } }
            tbody { @for n in nodes { (node_row(Some(n))) } }
        }
    }
}

fn node_row(node: Option<&NodeView>) -> Markup {
    let text = |f: &dyn Fn(&NodeView) -> String| node.map(f).unwrap_or_default();
    html! {
        tr data-key=[node.map(|n| &n.name)] class=(text(&|n| format!("state-{}", n.state))) {
            td { a data-field="name" href=[node.map(|n| format!("/nodes/{}", n.name))] { (text(&|n| n.name.clone())) } }
            td data-field="state" { (text(&|n| n.state.clone())) }
            td data-field="rtt" { (text(&|n| n.rtt_ms.map_or("-".into(), |ms| format!("{ms:.1} ms")))) }
            td data-field="last_seen" data-time=[node.and_then(|n| n.last_seen)] { (text(&|n| n.last_seen.map_or("-".into(), |_| "now".into()))) }
            td data-field="pid" { (text(&|n| n.circusd_pid.map_or("-".into(), |p| p.to_string()))) }
            td data-field="tags" { (text(&|n| n.tags.join(", "))) }
            td data-field="cpu" { (text(&|n| percent(n.cpu))) }
            td data-field="mem" { (text(&|n| bytes(n.mem_bytes))) }
            td.spark data-field="spark" { (PreEscaped(node.map(|n| sparkline(&n.history)).unwrap_or_default())) }
        }
    }
}

fn watchers_table(watchers: &[WatcherView], readonly: bool, everywhere: bool) -> Markup {
    html! {
        table #watchers {
            thead { tr { th { "node" } th { "watcher" } th { "status" } th { "processes" } th { "CPU" } th { "memory" } th { "output" } @if !readonly { th { "actions" } } } }
            tbody { @for w in watchers { (watcher_row(Some(w), readonly, everywhere)) } }
        }
    }
}

fn watcher_row(w: Option<&WatcherView>, readonly: bool, everywhere: bool) -> Markup {
    let text = |f: &dyn Fn(&WatcherView) -> String| w.map(f).unwrap_or_default();
    html! {
        tr data-key=[w.map(|w| format!("{}/{}", w.node, w.watcher))] class=(text(&|w| format!("status-{}", w.status.as_deref().unwrap_or("unknown")))) {
            td data-field="node" { (text(&|w| w.node.clone())) }
            td data-field="watcher" { (text(&|w| w.watcher.clone())) }
            td data-field="status" { (text(&|w| w.status.clone().unwrap_or_else(|| "?".into()))) }
            td data-field="processes" { (text(&|w| w.processes.map_or("-".into(), |n| n.to_string()))) }
            td data-field="cpu" { (text(&|w| percent(w.cpu))) }
            td data-field="mem" { (text(&|w| bytes(w.mem_bytes))) }
            // A read: offered on a read-only dashboard too.
            td { button type="button" data-log="open" { "log" } }
            @if !readonly {
                td.actions {
                    @for action in ACTIONS { button type="button" data-scope="node" data-action=(action) { (action) } " " }
                    @if everywhere { "| all nodes: " @for action in ACTIONS { button type="button" data-scope="all" data-action=(action) { (action) } " " } }
                }
            }
        }
    }
}

fn events_list(events: &[EventView]) -> Markup {
    html! {
        ul #events {
            @for e in events.iter().rev() {
                li { (e.node) @if let Some(w) = &e.watcher { ":" (w) } " " b { (e.event) } }
            }
        }
    }
}

/// An inline SVG of CPU (line) over the samples; empty before the first sample.
pub fn sparkline(history: &[(f64, u64)]) -> String {
    if history.is_empty() {
        return String::new();
    }
    let max = history.iter().map(|(cpu, _)| *cpu).fold(1.0, f64::max);
    let step = 120.0 / (crate::view::HISTORY_SAMPLES as f64 - 1.0);
    let points: Vec<String> = history
        .iter()
        .enumerate()
        .map(|(i, (cpu, _))| format!("{:.1},{:.1}", i as f64 * step, 20.0 - cpu / max * 18.0))
        .collect();
    format!(
        r#"<svg width="120" height="20" viewBox="0 0 120 20"><polyline fill="none" stroke="currentColor" points="{}"/></svg>"#,
        points.join(" ")
    )
}

fn percent(value: f64) -> String {
    format!("{value:.1} %")
}

fn bytes(value: u64) -> String {
    match value {
        0 => "-".into(),
        v if v >= 1 << 30 => format!("{:.1} GiB", v as f64 / f64::from(1u32 << 30)),
        v if v >= 1 << 20 => format!("{:.1} MiB", v as f64 / f64::from(1u32 << 20)),
        v => format!("{:.0} KiB", v as f64 / 1024.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparklines_scale_to_the_highest_sample() {
        assert_eq!(sparkline(&[]), "");
        let svg = sparkline(&[(0.0, 0), (50.0, 0), (100.0, 0)]);
        assert!(svg.starts_with("<svg") && svg.contains(r#"points="0.0,20.0 2.0,11.0 4.1,2.0""#), "{svg}");
        assert_eq!(bytes(3 << 20), "3.0 MiB");
    }
}
