//! The join loop against a scripted master and a virtual clock.

use super::*;
use crate::master::fake::Scripted;

/// A scripted answer of the master.
type Answer = Result<Value, ConnectionError>;

/// A clock that only advances by the loop's sleeps; it reports `stop` once the loop has slept
/// `stop_after` times.
struct FakeWaiter {
    stop_after: usize,
    stop: Stop,
    sleeps: Vec<Duration>,
}

impl Waiter for FakeWaiter {
    fn stop(&mut self) -> Option<Stop> {
        (self.sleeps.len() >= self.stop_after).then_some(self.stop)
    }

    fn sleep(&mut self, pause: Duration) {
        self.sleeps.push(pause);
    }
}

/// Worker `second` on the demo's ports.
fn worker() -> Worker {
    Worker {
        name: "second".into(),
        endpoint: "tcp://127.0.0.1:6555".into(),
        pubsub_endpoint: "tcp://127.0.0.1:6556".into(),
        stats_endpoint: "tcp://127.0.0.1:6557".into(),
        master: "tcp://127.0.0.1:5558".into(),
        tags: None,
        secret: None,
        logs_endpoint: None,
    }
}

/// What one run did: requests sent, each one's deadline and the sleeps (in ms), log lines
/// without the prefix, and the stop.
struct Outcome {
    sent: Vec<String>,
    deadlines: Vec<u128>,
    sleeps: Vec<u128>,
    log: Vec<String>,
    stop: Stop,
}

/// Runs the loop with `script`, stopping with `stop` after `sleeps` sleeps.
fn play(script: Vec<Answer>, sleeps: usize, stop: Stop) -> Outcome {
    play_with(&Timings::default(), script, sleeps, stop)
}

/// [`play`] with these `timings`.
fn play_with(timings: &Timings, script: Vec<Answer>, sleeps: usize, stop: Stop) -> Outcome {
    let master = Scripted::answering(script);
    let mut waiter = FakeWaiter { stop_after: sleeps, stop, sleeps: Vec::new() };
    let mut log = Vec::new();
    let stop = run(&worker(), &master, &mut waiter, timings, &mut log);
    let log = String::from_utf8(log).unwrap();
    let log = log.lines().map(|l| l.strip_prefix("clusterctl join: ").expect("prefixed").to_string()).collect();
    let millis = |durations: &[Duration]| durations.iter().map(Duration::as_millis).collect();
    let deadlines = millis(&master.timeouts.borrow());
    Outcome { sent: master.sent(), deadlines, sleeps: millis(&waiter.sleeps), log, stop }
}

/// An ok reply with `fields`.
fn ok(fields: Value) -> Answer {
    let mut reply = json!({"status": "ok", "time": 1.0});
    reply.as_object_mut().unwrap().extend(fields.as_object().cloned().unwrap());
    Ok(reply)
}

/// The master's `nodelist` reply listing `second` at `endpoint`.
fn listed(endpoint: &str) -> Answer {
    ok(json!({"nodelist": {"first": "tcp://127.0.0.1:5555", "second": endpoint}}))
}

/// No reply.
fn down() -> Answer {
    Err(ConnectionError::Timeout)
}

#[test]
fn retries_with_capped_backoff_until_the_master_answers() {
    let mut script: Vec<_> = (0..7).map(|_| down()).collect();
    script.push(ok(json!({"replaced": false})));
    script.push(listed("tcp://127.0.0.1:6555"));
    script.push(ok(json!({"removed": "second"})));
    let out = play(script, 9, Stop::Signal);
    assert_eq!(out.sleeps, [200, 400, 800, 1600, 3200, 5000, 5000, 2000, 2000]);
    let registers = out.sent.iter().filter(|s| *s == "register_node second").count();
    assert_eq!(registers, 8);
    assert_eq!(out.sent[8..], ["nodelist", "unregister_node second"]);
    assert_eq!(out.log[1], "master tcp://127.0.0.1:5558 unreachable (no reply within 2s), retrying in 0.2s");
    assert_eq!(out.log[7], "master tcp://127.0.0.1:5558 unreachable (no reply within 2s), retrying in 5s");
    assert_eq!(out.log[8], "registered node second (tcp://127.0.0.1:6555) with master tcp://127.0.0.1:5558");
    assert_eq!(out.log[9], "unregistered node second from master tcp://127.0.0.1:5558");
    assert_eq!(out.log.len(), 10, "{:?}", out.log);
    assert_eq!(out.stop, Stop::Signal);
}

#[test]
fn a_forgotten_or_moved_node_is_registered_again_at_once() {
    let script = vec![
        ok(json!({"replaced": true})),
        listed("tcp://127.0.0.1:6555"),
        ok(json!({"nodelist": {"first": "tcp://127.0.0.1:5555"}})),
        ok(json!({"replaced": false})),
        listed("tcp://10.9.9.9:1"),
        ok(json!({"replaced": true})),
        listed("tcp://127.0.0.1:6555"),
    ];
    let out = play(script, 5, Stop::Orphaned { was: 10, now: 1 });
    let sent = ["register_node second", "nodelist", "nodelist", "register_node second", "nodelist"];
    assert_eq!(out.sent[..5], sent);
    assert_eq!(out.sent.len(), 7, "no unregister when orphaned: {:?}", out.sent);
    assert_eq!(out.sleeps, [2000, 2000, 2000, 2000, 2000], "no pause before registering again");
    assert!(out.log[1].ends_with("(replacing the master's previous entry of that name)"), "{:?}", out.log);
    assert_eq!(
        out.log[2..],
        [
            "master tcp://127.0.0.1:5558 no longer knows node second (does not list it), registering again",
            "re-registered node second (tcp://127.0.0.1:6555) with master tcp://127.0.0.1:5558",
            "master tcp://127.0.0.1:5558 no longer knows node second (lists it at \"tcp://10.9.9.9:1\"), registering again",
            "re-registered node second (tcp://127.0.0.1:6555) with master tcp://127.0.0.1:5558",
            "parent process 10 is gone (now 1): exiting without unregistering node second",
        ]
    );
}

#[test]
fn an_outage_is_logged_once_and_checks_keep_going() {
    let script = vec![ok(json!({})), down(), down(), down(), ok(json!({"nodelist": {}})), ok(json!({})), down()];
    let out = play(script, 5, Stop::Signal);
    assert_eq!(out.sleeps, [2000, 200, 200, 200, 2000]);
    assert_eq!(
        out.log[2..],
        [
            "lost contact with master tcp://127.0.0.1:5558 (no reply within 2s), checking again",
            "master tcp://127.0.0.1:5558 answers again",
            "master tcp://127.0.0.1:5558 no longer knows node second (does not list it), registering again",
            "re-registered node second (tcp://127.0.0.1:6555) with master tcp://127.0.0.1:5558",
            "could not unregister node second: master tcp://127.0.0.1:5558 unreachable (no reply within 2s)",
        ]
    );
}

#[test]
fn a_refusal_is_retried_and_the_reason_logged() {
    let refusal = || Ok(json!({"status": "error", "reason": "endpoint is the master's own", "errno": 3}));
    let unknown = Ok(json!({"status": "error", "reason": "unknown node 'second' (nodes: first)", "errno": 3}));
    let out = play(vec![refusal(), refusal(), unknown], 2, Stop::Signal);
    assert_eq!(out.sleeps, [200, 400]);
    assert_eq!(
        out.log[1],
        "master tcp://127.0.0.1:5558 refused node second: endpoint is the master's own, retrying in 0.2s"
    );
    assert_eq!(
        out.log[3],
        "master tcp://127.0.0.1:5558 did not unregister node second: unknown node 'second' (nodes: first)"
    );
}

#[test]
fn a_stop_before_anything_was_sent_sends_nothing() {
    let out = play(vec![], 0, Stop::Signal);
    assert!(out.sent.is_empty());
    assert_eq!(out.log[1], "stopping (nothing was registered)");
}

#[test]
fn several_silent_masters_are_each_named_in_the_log() {
    let none = || {
        Err(ConnectionError::NoneAnswered(vec![
            ("tcp://10.0.0.1:5558".into(), ConnectionError::Timeout),
            ("tcp://10.0.0.2:5558".into(), ConnectionError::BadReply("not JSON".into())),
        ]))
    };
    let out = play(vec![none(), ok(json!({})), none(), none()], 3, Stop::Signal);
    let each = "tcp://10.0.0.1:5558: no reply within 2s; tcp://10.0.0.2:5558: bad reply: not JSON";
    assert_eq!(out.log[1], format!("master tcp://127.0.0.1:5558 unreachable ({each}), retrying in 0.2s"));
    assert_eq!(out.log[3], format!("lost contact with master tcp://127.0.0.1:5558 ({each}), checking again"));
    let unregister = format!("could not unregister node second: master tcp://127.0.0.1:5558 unreachable ({each})");
    assert_eq!(out.log[4..], [unregister]);
}

#[test]
fn each_call_gets_its_own_deadline_and_the_log_names_it() {
    let timings = Timings {
        call_timeout: Duration::from_millis(500),
        unregister_timeout: Duration::from_millis(1500),
        ..Timings::default()
    };
    let out = play_with(&timings, vec![down(), ok(json!({})), down(), down()], 3, Stop::Signal);
    assert_eq!(out.sent, ["register_node second", "register_node second", "nodelist", "unregister_node second"]);
    assert_eq!(out.deadlines, [500, 500, 500, 1500]);
    assert_eq!(out.log[1], "master tcp://127.0.0.1:5558 unreachable (no reply within 0.5s), retrying in 0.2s");
    assert_eq!(
        out.log[4],
        "could not unregister node second: master tcp://127.0.0.1:5558 unreachable (no reply within 1.5s)"
    );
}
