//! Rendering into ratatui's `TestBackend` and reading the text back.

use std::time::{Duration, Instant};

use ratatui::backend::TestBackend;
use ratatui::Terminal;

use super::*;
use crate::top::decode::tests::process_payload;

/// The stats endpoint shown in the tests.
const ENDPOINT: &str = "tcp://127.0.0.1:5559";

/// Renders `model` at `width` x `height` and returns the screen's lines.
fn draw(model: &Model, sort: Sort, state: &mut ViewState, width: u16, height: u16) -> Vec<String> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    let screen = Screen { model, sort, endpoint: ENDPOINT, failure: None };
    terminal.draw(|frame| render(frame, &screen, state)).unwrap();
    let buffer = terminal.backend().buffer();
    let area = buffer.area;
    (0..area.height)
        .map(|y| (0..area.width).map(|x| buffer[(x, y)].symbol()).collect::<String>().trim_end().to_string())
        .collect()
}

/// Two nodes (one with a dash in its name), a `circus` watcher, a socket, node states.
fn cluster() -> Model {
    let mut model = Model::new(Duration::from_secs(3));
    let now = Instant::now();
    let mut feed = |topic: &str, payload: String| assert!(model.apply(topic.as_bytes(), payload.as_bytes(), now));
    let first = r#", "node": "first""#;
    feed("stat.first-dummy.8498", process_payload(8498, "0.0", "0.036", "42.69", "null", first));
    feed("stat.first-dummy.8500", process_payload(8500, "12.5", "0.036", "12.2", "null", first));
    feed("stat.first-circus.8495", process_payload(8495, "0.5", "0.1", "250.0", r#""circusd""#, first));
    let second = r#", "node": "second-node""#;
    feed("stat.second-node-web.9001", process_payload(9001, r#""N/A""#, "1.5", "3.0", "null", second));
    let socket = r#"{"fd": 7, "subtopic": 100007, "reads": 4, "address": "first/127.0.0.1:7515", "node": "first"}"#;
    feed("stat.sockets.100007", socket.to_string());
    model.set_node_states(Some(vec![
        ("first".into(), "alive".into()),
        ("second-node".into(), "suspect".into()),
        ("third".into(), "down".into()),
    ]));
    model
}

/// Whether some line contains `text`.
fn shows(lines: &[String], text: &str) -> bool {
    lines.iter().any(|line| line.contains(text))
}

#[test]
fn waits_for_the_first_message() {
    let model = Model::new(Duration::from_secs(3));
    let lines = draw(&model, Sort::Cpu, &mut ViewState::default(), 80, 10);
    assert!(shows(&lines, "waiting for stats on tcp://127.0.0.1:5559"), "{lines:#?}");
    assert!(shows(&lines, "sort: CPU"));
    assert!(shows(&lines, "q quit"));
}

#[test]
fn shows_nodes_watchers_processes_and_totals() {
    let lines = draw(&cluster(), Sort::Cpu, &mut ViewState::default(), 100, 30);
    let text = lines.join("\n");
    assert!(shows(&lines, "totals: CPU % and MEM % summed, AGE oldest"), "{text}");
    assert!(shows(&lines, "PID") && shows(&lines, "CPU %") && shows(&lines, "MEM %") && shows(&lines, "AGE"));
    assert!(shows(&lines, "cluster (4 processes)"), "{text}");
    assert!(shows(&lines, "first [alive] (3)"), "{text}");
    assert!(shows(&lines, "second-node [suspect] (1)"), "{text}");
    assert!(shows(&lines, "third [down] no stats"), "{text}");
    assert!(shows(&lines, "dummy (2)") && shows(&lines, "circus (1)") && shows(&lines, "web (1)"), "{text}");
    assert!(shows(&lines, "circusd"), "{text}");
    assert!(shows(&lines, "first/127.0.0.1:7515"), "{text}");
    // Per-process figures: CPU with one decimal, MEM with two, AGE short; N/A kept.
    let row = lines.iter().find(|l| l.contains("8500")).unwrap();
    assert!(row.contains("12.5") && row.contains("0.04") && row.contains("12.2s"), "{row}");
    let row = lines.iter().find(|l| l.contains("9001")).unwrap();
    assert!(row.contains("N/A") && row.contains("1.50") && row.contains("3.0s"), "{row}");
    // Totals: first sums 13.0 CPU, its oldest process is 250 s old.
    let header = lines.iter().find(|l| l.contains("first [alive]")).unwrap();
    assert!(header.contains("13.0") && header.contains("4m10s"), "{header}");
    // CPU sort: 8500 (12.5) above 8498 (0.0), dummy (12.5) above circus (0.5).
    let at = |text: &str| lines.iter().position(|l| l.contains(text)).unwrap();
    assert!(at("8500") < at("8498") && at("dummy (2)") < at("circus (1)"), "{text}");
}

#[test]
fn sort_changes_the_order_and_the_title() {
    let lines = draw(&cluster(), Sort::Name, &mut ViewState::default(), 100, 30);
    let at = |text: &str| lines.iter().position(|l| l.contains(text)).unwrap();
    assert!(shows(&lines, "sort: name"));
    assert!(at("circus (1)") < at("dummy (2)") && at("8498") < at("8500"));
    let lines = draw(&cluster(), Sort::Mem, &mut ViewState::default(), 100, 30);
    assert!(shows(&lines, "sort: MEM"));
}

#[test]
fn unknown_states_and_a_plain_circusd() {
    let mut model = Model::new(Duration::from_secs(3));
    let payload = process_payload(8498, "0.0", "0.036", "42.69", "null", "");
    assert!(model.apply(b"stat.dummy.8498", payload.as_bytes(), Instant::now()));
    let lines = draw(&model, Sort::Cpu, &mut ViewState::default(), 80, 10);
    assert!(shows(&lines, "(plain circusd) [?] (1)"), "{lines:#?}");
    assert!(shows(&lines, "8498") && shows(&lines, "python"), "{lines:#?}");
}

#[test]
fn scrolling_is_clamped_and_reported() {
    let model = cluster();
    let mut state = ViewState { scroll: 3, page: 0 };
    let lines = draw(&model, Sort::Cpu, &mut state, 100, 9);
    assert_eq!(state.page, 5);
    assert_eq!(state.scroll, 3);
    assert!(shows(&lines, "lines 4-8 of 12"), "{lines:#?}");
    assert!(!shows(&lines, "first [alive]"), "scrolled past the first node: {lines:#?}");
    state.scroll = usize::MAX;
    let lines = draw(&model, Sort::Cpu, &mut state, 100, 9);
    assert_eq!(state.scroll, 12 - 5);
    assert!(shows(&lines, "first/127.0.0.1:7515"), "the last line is shown: {lines:#?}");
    // Everything fits: back to the top, no position shown.
    let lines = draw(&model, Sort::Cpu, &mut state, 100, 40);
    assert_eq!(state.scroll, 0);
    assert!(!shows(&lines, "lines "));
}

#[test]
fn tiny_and_empty_terminals_do_not_panic() {
    let model = cluster();
    for (width, height) in [(20, 5), (1, 1), (0, 0), (5, 40), (200, 2), (30, 3)] {
        let mut state = ViewState { scroll: usize::MAX, page: 0 };
        let lines = draw(&model, Sort::Cpu, &mut state, width, height);
        assert_eq!(lines.len(), usize::from(height));
    }
    let lines = draw(&model, Sort::Cpu, &mut ViewState::default(), 20, 5);
    assert!(shows(&lines, "clusterctl top"), "{lines:#?}");
}

#[test]
fn a_failed_stream_is_reported() {
    let model = Model::new(Duration::from_secs(3));
    let mut terminal = Terminal::new(TestBackend::new(80, 8)).unwrap();
    let screen = Screen { model: &model, sort: Sort::Cpu, endpoint: ENDPOINT, failure: Some("recv: boom") };
    terminal.draw(|frame| render(frame, &screen, &mut ViewState::default())).unwrap();
    let buffer = terminal.backend().buffer();
    let row: String = (0..80).map(|x| buffer[(x, 3)].symbol()).collect();
    assert!(row.contains("stats stream failed: recv: boom"), "{row}");
}
