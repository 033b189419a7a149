//! Drawing: a title bar, column headers, the cluster total, the scrolling body (nodes, their
//! watchers and processes, then sockets) and a key help line. No I/O; everything comes from the
//! [`Model`] and the loop's [`ViewState`].
//!
//! Layout of the body: a node header carries the node's state and totals, a watcher header its
//! watcher's totals, and each process row its own figures. Totals add CPU % and MEM % up and
//! take the oldest AGE; the title says so.

use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::model::{Model, NodeView, Sort, Totals};
use crate::duration::age;

/// Width of the PID column.
const PID: usize = 7;
/// Width of each figure column (CPU %, MEM %).
const FIGURE: usize = 7;
/// Width of the AGE column.
const AGE: usize = 8;
/// Everything but the name column: PID, figures, age and the two-space gaps.
const FIXED: usize = PID + 2 + 2 + FIGURE + 2 + FIGURE + 2 + AGE;
/// The name column never gets narrower than this (the line is cut on the right instead).
const MIN_NAME: usize = 8;
/// Nor wider than this, so the figures stay near the names on wide screens.
const MAX_NAME: usize = 48;

/// What the loop keeps between frames.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ViewState {
    /// First body line shown; clamped on every render.
    pub scroll: usize,
    /// Body height at the last render, for PgUp / PgDn.
    pub page: usize,
}

/// What one frame shows besides the model.
#[derive(Debug, Clone, Copy)]
pub struct Screen<'a> {
    /// The data.
    pub model: &'a Model,
    /// The active sort.
    pub sort: Sort,
    /// The stats endpoint (for the title and the waiting message).
    pub endpoint: &'a str,
    /// Why the stats stream stopped, if it did.
    pub failure: Option<&'a str>,
}

/// Draws one frame into `frame` and clamps `state.scroll` to the content.
pub fn render(frame: &mut Frame<'_>, screen: &Screen<'_>, state: &mut ViewState) {
    let [title, columns, cluster, body, help] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    let width = usize::from(frame.area().width);
    let lines = body_lines(screen, width);
    let count = lines.len();
    state.page = usize::from(body.height);
    state.scroll = state.scroll.min(count.saturating_sub(state.page));
    let visible: Vec<Line<'_>> = lines.into_iter().skip(state.scroll).take(state.page).collect();
    let total = screen.model.total();
    let summary = format!("cluster ({} processes)", total.processes);
    let header = row("PID", "NAME", ["CPU %", "MEM %", "AGE"].map(String::from), width);
    frame.render_widget(Paragraph::new(title_line(screen)).style(Style::new().reversed()), title);
    frame.render_widget(Paragraph::new(header).style(Style::new().bold()), columns);
    frame.render_widget(Paragraph::new(row("", &summary, figures(&total), width)).bold(), cluster);
    frame.render_widget(Paragraph::new(visible), body);
    frame.render_widget(Paragraph::new(help_line(state, count)).dim(), help);
}

/// `clusterctl top  <endpoint>  sort: CPU  totals: ...`.
fn title_line(screen: &Screen<'_>) -> Line<'static> {
    Line::from(vec![
        Span::raw(format!(" clusterctl top  {}  ", screen.endpoint)),
        Span::raw(format!("sort: {}", screen.sort.label())).bold(),
        Span::raw("  totals: CPU % and MEM % summed, AGE oldest"),
    ])
}

/// Key help, plus the scroll position when the body does not fit.
fn help_line(state: &ViewState, lines: usize) -> Line<'static> {
    let keys = " c cpu  m mem  n name  \u{2191}\u{2193} PgUp PgDn scroll  q quit";
    if lines > state.page && state.page > 0 {
        let last = (state.scroll + state.page).min(lines);
        return Line::from(format!(" lines {}-{last} of {lines} {keys}", state.scroll + 1));
    }
    Line::from(keys)
}

/// The scrolling part: nodes, watchers, processes, sockets; or why there is nothing yet.
fn body_lines(screen: &Screen<'_>, width: usize) -> Vec<Line<'static>> {
    let model = screen.model;
    let mut lines = Vec::new();
    if let Some(failure) = screen.failure {
        lines.push(Line::from(format!("stats stream failed: {failure}")).red());
    }
    if model.received == 0 {
        lines.push(Line::from(format!("waiting for stats on {}", screen.endpoint)));
        if !model.states_known() {
            return lines;
        }
    }
    let nodes = model.nodes(screen.sort);
    if nodes.is_empty() && model.received > 0 {
        let ignored = model.ignored;
        lines.push(Line::from(format!("no process is reporting ({} messages, {ignored} ignored)", model.received)));
    }
    for node in &nodes {
        node_lines(node, width, &mut lines);
    }
    let sockets = model.sockets();
    if !sockets.is_empty() {
        lines.push(row("", "sockets", ["reads".into(), String::new(), String::new()], width).bold());
        for socket in sockets {
            let reads = socket.reads.map_or("N/A".into(), |r| format!("{r:.0}"));
            lines.push(row("", &format!("  {}", socket.address), [reads, String::new(), String::new()], width));
        }
    }
    lines
}

/// A node header (name, state, totals), then each watcher header and its processes.
fn node_lines(node: &NodeView<'_>, width: usize, lines: &mut Vec<Line<'static>>) {
    let name = node.name.unwrap_or("(plain circusd)");
    let state = node.state.unwrap_or("?");
    let label = if node.watchers.is_empty() {
        format!("{name} [{state}] no stats")
    } else {
        format!("{name} [{state}] ({})", node.total.processes)
    };
    let mut header = row("", &label, figures(&node.total), width);
    header = header.style(Style::new().add_modifier(Modifier::BOLD).fg(state_color(state)));
    lines.push(header);
    for watcher in &node.watchers {
        let label = format!("  {} ({})", watcher.name, watcher.total.processes);
        lines.push(row("", &label, figures(&watcher.total), width).style(Style::new().bold().fg(Color::Cyan)));
        for process in &watcher.processes {
            let cells = [number(process.cpu, 1), number(process.mem, 2), process.age.map_or("N/A".into(), age)];
            lines.push(row(&process.pid.to_string(), &format!("    {}", process.name), cells, width));
        }
    }
}

/// Green for alive, yellow for suspect, red for down, the default otherwise.
fn state_color(state: &str) -> Color {
    match state {
        "alive" => Color::Green,
        "suspect" => Color::Yellow,
        "down" => Color::Red,
        _ => Color::Reset,
    }
}

/// The three figure cells of a total.
fn figures(total: &Totals) -> [String; 3] {
    if total.processes == 0 {
        return Default::default();
    }
    [number(total.cpu, 1), number(total.mem, 2), total.age.map_or("N/A".into(), age)]
}

/// A figure with `decimals` decimals, `N/A` when unknown.
fn number(value: Option<f64>, decimals: usize) -> String {
    value.map_or("N/A".into(), |v| format!("{v:.decimals$}"))
}

/// One line in the column layout: PID right-aligned, the name cut to its column, the three
/// figures right-aligned. Lines wider than the screen are cut by the paragraph.
fn row(pid: &str, name: &str, cells: [String; 3], width: usize) -> Line<'static> {
    let name_width = width.saturating_sub(FIXED).clamp(MIN_NAME, MAX_NAME);
    let name: String = name.chars().take(name_width).collect();
    let [cpu, mem, age] = cells;
    Line::from(format!("{pid:>PID$}  {name:<name_width$}  {cpu:>FIGURE$}  {mem:>FIGURE$}  {age:>AGE$}"))
}

#[cfg(test)]
#[path = "view_tests.rs"]
mod tests;
