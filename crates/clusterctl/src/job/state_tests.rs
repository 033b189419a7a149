//! Tests of [`super`]: settling each node from replies, events and polls.

use std::time::{Duration, Instant};

use super::*;
use crate::commands::reply;

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|name| name.to_string()).collect()
}

fn gathered(text: &str) -> Gathered {
    Gathered::from_reply(&reply(text)).unwrap()
}

const W: &str = "run-reset-ab12";

/// A job on a, b, c whose add went: a started pid 10, b started nothing yet, c failed.
fn started(t0: Instant) -> Job {
    let mut job = Job::new(W, &names(&["a", "b", "c"]));
    let added = r#"{"status": "error", "replies": {
        "a": {"status": "ok", "started": [10], "kept": []},
        "b": {"status": "ok", "started": [], "kept": []},
        "c": {"status": "error", "reason": "node c is down", "errno": 5}}}"#;
    job.on_added(&gathered(added), t0);
    job
}

#[test]
fn add_replies_start_the_clock_or_fail() {
    let t0 = Instant::now();
    let job = started(t0);
    assert_eq!(job.running(), names(&["a", "b"]));
    assert_eq!(job.outcomes()[2].1, Outcome::FailedToStart { reason: "node c is down".into() });
    let mut missing = Job::new(W, &names(&["a", "z"]));
    missing.on_added(&gathered(r#"{"status": "ok", "replies": {"a": {"status": "ok", "started": [1]}}}"#), t0);
    assert_eq!(missing.running(), names(&["a"]));
    assert!(matches!(missing.outcomes()[1].1, Outcome::FailedToStart { .. }));
}

#[test]
fn reap_events_give_exit_codes_and_node_durations() {
    let t0 = Instant::now();
    let mut job = started(t0);
    job.on_event(&format!("watcher.a:{W}.spawn"), r#"{"process_pid": 10, "time": 100.0, "node": "a"}"#, t0);
    // Another watcher, another node, another pid, a plain circusd topic: ignored.
    job.on_event("watcher.a:other.reap", r#"{"process_pid": 10, "exit_code": 9}"#, t0);
    job.on_event(&format!("watcher.z:{W}.reap"), r#"{"process_pid": 10, "exit_code": 9}"#, t0);
    job.on_event(&format!("watcher.a:{W}.reap"), r#"{"process_pid": 11, "exit_code": 9}"#, t0);
    job.on_event(&format!("watcher.{W}.reap"), r#"{"process_pid": 10, "exit_code": 9}"#, t0);
    assert_eq!(job.running(), names(&["a", "b"]));
    job.on_event(&format!("watcher.a:{W}.reap"), r#"{"process_pid": 10, "time": 100.25, "exit_code": 2}"#, t0);
    assert_eq!(job.outcomes()[0].1, Outcome::Exited { code: Some(2), duration: Duration::from_millis(250) });
    // b exited before circusd answered: spawn, reap (no pid known), stop.
    let later = t0 + Duration::from_millis(40);
    job.on_event(&format!("watcher.b:{W}.spawn"), r#"{"process_pid": 20, "time": 5.0}"#, t0);
    job.on_event(&format!("watcher.b:{W}.reap"), r#"{"process_pid": 20, "exit_code": -15}"#, later);
    job.on_event(&format!("watcher.b:{W}.stop"), r#"{"time": 5.1}"#, later);
    assert_eq!(job.outcomes()[1].1, Outcome::Exited { code: Some(-15), duration: Duration::from_millis(40) });
    assert!(job.running().is_empty());
}

#[test]
fn stop_without_reap() {
    let t0 = Instant::now();
    let mut job = started(t0);
    let t1 = t0 + Duration::from_secs(2);
    // a was started (pid known): exited, code unknown; b never spawned: did not start.
    job.on_event(&format!("watcher.a:{W}.stop"), "{}", t1);
    job.on_event(&format!("watcher.b:{W}.stop"), "not json", t1);
    assert_eq!(job.outcomes()[0].1, Outcome::Exited { code: None, duration: Duration::from_secs(2) });
    assert!(matches!(job.outcomes()[1].1, Outcome::FailedToStart { .. }));
}

#[test]
fn polls_settle_what_events_missed() {
    let t0 = Instant::now();
    let mut job = started(t0);
    let poll = |pids_a: &str, b: &str| {
        gathered(&format!(r#"{{"status": "ok", "replies": {{"a": {{"status": "ok", "pids": {pids_a}}}, "b": {b}}}}}"#))
    };
    let down = r#"{"status": "error", "reason": "node b is down", "errno": 5}"#;
    let at = |secs| t0 + Duration::from_secs(secs);
    job.on_poll(&poll("[]", down), at(1));
    job.on_poll(&poll("[10]", down), at(2));
    job.on_poll(&poll("[]", r#"{"status": "ok", "pids": [20]}"#), at(3));
    assert_eq!(job.running(), names(&["a", "b"]));
    job.on_poll(&poll("[]", down), at(4));
    assert_eq!(job.outcomes()[0].1, Outcome::Exited { code: None, duration: Duration::from_secs(3) });
    job.on_poll(&poll("[]", down), at(5));
    assert_eq!(job.running(), names(&["b"]));
    job.on_poll(&poll("[]", down), at(6));
    assert_eq!(job.outcomes()[1].1, Outcome::Lost { reason: "node b is down".into() });
}

#[test]
fn timeout_and_interruption_stop_what_runs() {
    let t0 = Instant::now();
    let mut job = started(t0);
    job.on_event(&format!("watcher.a:{W}.reap"), r#"{"process_pid": 10, "exit_code": 0}"#, t0);
    job.stop_running(t0 + Duration::from_secs(60), true);
    assert_eq!(job.outcomes()[1].1, Outcome::TimedOut { duration: Duration::from_secs(60) });
    assert!(job.outcomes()[0].1.succeeded());
    let mut job = started(t0);
    job.stop_running(t0 + Duration::from_secs(3), false);
    assert_eq!(job.outcomes()[0].1, Outcome::Interrupted { duration: Duration::from_secs(3) });
    // Events after the end change nothing.
    job.on_event(&format!("watcher.a:{W}.reap"), r#"{"process_pid": 10, "exit_code": 0}"#, t0);
    assert!(matches!(job.outcomes()[0].1, Outcome::Interrupted { .. }));
}

#[test]
fn a_spawned_job_waits_for_its_late_reap() {
    // circusd reaps every check_delay: the process is gone from `list` before its reap event.
    let t0 = Instant::now();
    let mut job = started(t0);
    job.on_event(&format!("watcher.a:{W}.spawn"), r#"{"process_pid": 10, "time": 100.0}"#, t0);
    let empty =
        r#"{"status": "ok", "replies": {"a": {"status": "ok", "pids": []}, "b": {"status": "ok", "pids": [11]}}}"#;
    for second in 1..=3 {
        job.on_poll(&gathered(empty), t0 + Duration::from_secs(second));
    }
    assert!(job.running().contains(&"a".to_string()), "still waiting for the reap");
    job.on_event(&format!("watcher.a:{W}.reap"), r#"{"process_pid": 10, "time": 103.0, "exit_code": 2}"#, t0);
    assert_eq!(job.outcomes()[0].1, Outcome::Exited { code: Some(2), duration: Duration::from_secs(3) });
    // Without the reap, the grace runs out and the code is unknown.
    let mut lost = started(t0);
    lost.on_event(&format!("watcher.a:{W}.spawn"), r#"{"process_pid": 10, "time": 100.0}"#, t0);
    lost.on_poll(&gathered(empty), t0 + Duration::from_secs(1));
    lost.on_poll(&gathered(empty), t0 + Duration::from_secs(1) + REAP_GRACE);
    assert!(matches!(lost.outcomes()[0].1, Outcome::Exited { code: None, .. }), "{:?}", lost.outcomes()[0]);
}
