//! The file-descriptor budget (issue 11, item 2): a master under a low open-files limit refuses
//! `register_node` past it with errno 3 naming the limit and how to raise it, keeps serving, and
//! never aborts inside libzmq (`Too many open files (epoll.cpp:65)`); a state file with more
//! nodes than fit starts what fits and keeps the rest saved; the lazy stream feeds are counted
//! when a subscriber starts them, and those beyond the room are refused with the reason in
//! `nodes` (`streams.error`).

use std::time::Duration;

use cluster_e2e::master::CLUSTER_SECTION;
use cluster_e2e::stream::Stream;
use cluster_e2e::{json, procs, wait_for, Master, SimNode, SimNodes, Value};
use clusterd_protocol::connection::budget::{FDS_PER_NODE, FDS_PER_STREAM};

/// Low enough that fewer nodes than this exhaust it (a node is budgeted `FDS_PER_NODE`
/// descriptors, the master keeps 64 free): tests start this many simnodes to get past it.
const OPEN_FILES_LIMIT: u64 = 256;

fn register(master: &Master, node: &SimNode) -> Value {
    master.call(
        "register_node",
        json!({"name": node.name, "endpoint": node.endpoint, "stats_endpoint": node.stats_endpoint,
               "pubsub_endpoint": node.pubsub_endpoint}),
    )
}

#[track_caller]
fn assert_no_abort(master: &Master) {
    let log = master.stderr();
    for crash in ["Assertion failed", "Too many open files (", "panicked", "Bad address"] {
        assert!(!log.contains(crash), "{crash} in the log:\n{log}");
    }
    assert_eq!(master.call("dstats", json!({}))["status"], "ok", "the master keeps answering");
}

fn node_count(master: &Master) -> usize {
    master.call("nodes", json!({}))["nodes"].as_array().map_or(0, Vec::len)
}

#[test]
fn register_node_past_the_budget_is_refused_with_the_limit() {
    let sims = SimNodes::start(OPEN_FILES_LIMIT as usize, &[]);
    let master = Master::start_with_open_files_limit(CLUSTER_SECTION, OPEN_FILES_LIMIT);
    let pid = master.pid().expect("running");
    let before = procs::open_fds(pid).expect("fd count");
    let (mut accepted, mut refused) = (Vec::new(), 0);
    for node in &sims.nodes {
        let reply = register(&master, node);
        if reply["status"] == "ok" {
            accepted.push(node.name.clone());
            continue;
        }
        refused += 1;
        assert_eq!(reply["errno"], 3, "{reply}");
        let reason = reply["reason"].as_str().unwrap_or_default();
        for needle in ["RLIMIT_NOFILE", &OPEN_FILES_LIMIT.to_string(), "raise the limit", "LimitNOFILE"] {
            assert!(reason.contains(needle), "{needle:?} not in {reason:?}");
        }
    }
    assert!(!accepted.is_empty() && refused > 0, "{} accepted, {refused} refused", accepted.len());
    assert_eq!(node_count(&master), accepted.len());
    master.wait_all_alive(&accepted);
    assert_no_abort(&master);
    // The budget's cost per node is no less than what a node costs.
    let open = procs::open_fds(pid).expect("fd count");
    let per_node = open.saturating_sub(before) as f64 / accepted.len() as f64;
    assert!(per_node <= FDS_PER_NODE as f64, "{per_node} descriptors per node ({before} -> {open})");
}

#[test]
fn a_state_file_past_the_budget_starts_what_fits_and_keeps_the_rest() {
    let sims = SimNodes::start(OPEN_FILES_LIMIT as usize, &[]);
    let mut master = Master::start_unsettled(CLUSTER_SECTION);
    for node in &sims.nodes {
        assert_eq!(register(&master, node)["status"], "ok");
    }
    master.signal(libc::SIGTERM);
    assert_eq!(master.wait_exit(Duration::from_secs(20)), Some(0));

    master.set_open_files_limit(Some(OPEN_FILES_LIMIT));
    master.restart();
    let started = node_count(&master);
    assert!(started > 0 && started < sims.nodes.len(), "{started} of {} started", sims.nodes.len());
    master.wait_log("saved nodes not started (out of file descriptors)");
    assert_no_abort(&master);

    master.signal(libc::SIGTERM);
    assert_eq!(master.wait_exit(Duration::from_secs(20)), Some(0), "{}", master.stderr());
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(master.dir().join("clusterd-state.json")).expect("state file"))
            .expect("state json");
    assert_eq!(saved["nodes"].as_array().map(Vec::len), Some(sims.nodes.len()), "the unstarted nodes stay saved");
}

#[test]
fn stream_feeds_past_the_budget_are_refused_with_the_reason_while_the_master_answers() {
    // More nodes than the limit lets register at any FDS_PER_NODE: the budget is full.
    let sims = SimNodes::start(OPEN_FILES_LIMIT as usize, &[]);
    let master = Master::start_with_open_files_limit(CLUSTER_SECTION, OPEN_FILES_LIMIT);
    let mut accepted = Vec::new();
    for node in &sims.nodes {
        if register(&master, node)["status"] != "ok" {
            break;
        }
        accepted.push(node.name.clone());
    }
    assert!(accepted.len() < sims.nodes.len(), "the budget refused none of {} nodes", sims.nodes.len());
    // A few nodes fewer: room for at least 4 node streams, far fewer than the nodes left.
    let freed = (4 * FDS_PER_STREAM).div_ceil(FDS_PER_NODE).max(1);
    for name in accepted.split_off(accepted.len().saturating_sub(freed)) {
        assert_eq!(master.call("unregister_node", json!({"name": name}))["status"], "ok");
    }
    assert!(accepted.len() > 2 * freed + 8, "{} nodes accepted", accepted.len());
    master.wait_all_alive(&accepted);

    // Nobody subscribed: no feed started, nothing refused.
    for name in &accepted {
        let streams = &master.node_entry(name).expect("listed")["streams"];
        assert_eq!((&streams["subscribed"], &streams["error"]), (&json!([]), &Value::Null), "{name}: {streams}");
    }

    // A subscriber to every node's stats: each feed either starts or is refused with the reason.
    let stream = Stream::subscribe(&master.stats_endpoint, &["stat."]);
    let (started, refused) = wait_for("every feed started or refused", || {
        let (mut started, mut refused, mut pending) = (Vec::new(), Vec::new(), Vec::new());
        for name in &accepted {
            let streams = master.node_entry(name).expect("listed")["streams"].clone();
            match (&streams["subscribed"], streams["error"].as_str()) {
                (held, None) if held == &json!(["stats"]) => started.push(name.clone()),
                (held, Some(reason)) if held == &json!([]) => refused.push(reason.to_string()),
                _ => pending.push(format!("{name}: {streams}")),
            }
        }
        if pending.is_empty() {
            Ok((started, refused))
        } else {
            Err(pending.join("; "))
        }
    });
    assert!(!started.is_empty() && !refused.is_empty(), "{} started, {} refused", started.len(), refused.len());
    for reason in &refused {
        for needle in ["RLIMIT_NOFILE", &OPEN_FILES_LIMIT.to_string(), "stream needs", "prlimit --nofile"] {
            assert!(reason.contains(needle), "{needle:?} not in {reason:?}");
        }
    }
    master.wait_log("stream feed not started");
    // The started feeds forward, and the master keeps answering.
    let first = &started[0];
    stream.wait_for(&format!("{first}'s stats"), |m| m.topic.starts_with(&format!("stat.{first}-")));
    assert_no_abort(&master);
    assert_eq!(node_count(&master), accepted.len());
}
