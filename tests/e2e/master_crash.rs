//! The master killed with `kill -9` while 50 registered simnodes answer and commands flow
//! through it (issue 7): restarted, it lists every node again (from its state file), they turn
//! alive, and commands succeed; meanwhile every command ended clearly (a reply, an error reply
//! or the client's own timeout), and nothing hung.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use cluster_e2e::master::CLUSTER_SECTION;
use cluster_e2e::traffic::{Outcome, Traffic};
use cluster_e2e::{json, wait_for, Master, SimNodes, Value};

const NODES: usize = 50;

/// The command client's deadline: past the master's `node_timeout` (4 s), so that a live
/// master always answers first; only a dead one leaves a call to time out.
const CALL_TIMEOUT: Duration = Duration::from_secs(6);

/// Successful calls that show commands flowing (before the kill, and again after).
const FLOWING: usize = 20;

/// The node names the state file holds, or why it cannot be read yet.
fn saved_names(master: &Master) -> Result<BTreeSet<String>, String> {
    let path = master.dir().join("clusterd-state.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let saved: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let nodes = saved["nodes"].as_array().ok_or_else(|| format!("no nodes in {text}"))?;
    Ok(nodes.iter().filter_map(|n| n["name"].as_str().map(str::to_string)).collect())
}

#[test]
fn a_master_killed_under_load_comes_back_with_every_registered_node() {
    let sims = SimNodes::start(NODES, &[]);
    let mut master = Master::start_with_config(CLUSTER_SECTION);
    sims.register_all(&master);
    let names: Vec<String> = sims.nodes.iter().map(|n| n.name.clone()).collect();
    master.wait_all_alive(&names);
    // `register_node` is answered once the node is in the registry; the state file is written
    // after that, in the background (lifecycle::persist, on the registry's change signal), so
    // a `kill -9` right after the reply may lose the last registrations. What the master
    // promises is that what the state file holds survives: wait until it holds all 50.
    let wanted: BTreeSet<String> = names.iter().cloned().collect();
    wait_for("the state file to hold every node", || match saved_names(&master) {
        Ok(saved) if saved == wanted => Ok(()),
        Ok(saved) => Err(format!("{} of {NODES} saved", saved.len())),
        Err(err) => Err(err),
    });

    let traffic = Traffic::start(&master.endpoint, &names, CALL_TIMEOUT);
    let started = Instant::now();
    wait_for("commands to flow", || match traffic.successes_since(started) {
        n if n >= FLOWING => Ok(()),
        n => Err(format!("{n} successes: {:?}", traffic.calls().last())),
    });

    let killed = Instant::now();
    master.kill9();
    // The outage itself: long enough for a few calls to be sent to a master that is not there.
    std::thread::sleep(Duration::from_secs(1));
    master.restart();
    let back = Instant::now();

    // The saved nodes are restored before the command endpoint serves its first request, so
    // the first `nodes` lists them all, as registered nodes.
    let reply = master.call("nodes", json!({}));
    let listed = reply["nodes"].as_array().cloned().unwrap_or_default();
    let listed_names: BTreeSet<String> = listed.iter().filter_map(|n| n["name"].as_str().map(str::to_string)).collect();
    assert_eq!(listed_names, wanted, "{reply}");
    assert!(listed.iter().all(|n| n["source"] == "registered"), "{reply}");
    master.wait_all_alive(&names);
    let recovered = Instant::now();
    wait_for("commands to succeed again", || match traffic.successes_since(recovered) {
        n if n >= FLOWING => Ok(()),
        n => Err(format!("{n} successes since recovery: {:?}", traffic.calls().last())),
    });
    let calls = traffic.stop();

    // The client kept one connection through it all: a call in flight when the master died
    // ran into its timeout; one sent while no master was there waited in the client's socket
    // and was answered by the new master (or timed out).
    let during: Vec<_> = calls.iter().filter(|c| c.sent < back && c.sent + c.took > killed).collect();
    assert!(!during.is_empty(), "no call was in flight while the master was down");
    let mut failures = Vec::new();
    for call in &calls {
        let ended = call.sent + call.took;
        match &call.outcome {
            Outcome::Ok => {}
            Outcome::Broken(err) => panic!("{}: a broken exchange: {err}", call.what),
            // Only the outage may fail calls: those still waiting when the master died, and
            // those sent before every node was reconnected.
            _ if ended < killed || call.sent > recovered => {
                panic!("{}: failed outside the outage: {:?}", call.what, call.outcome)
            }
            Outcome::Refused(reason) => {
                assert!(!reason.is_empty(), "{}: an error reply without a reason", call.what);
                failures.push(format!("{}: {reason}", call.what));
            }
            Outcome::Timeout => {
                assert!(call.took < CALL_TIMEOUT + Duration::from_secs(5), "{}: took {:?}", call.what, call.took);
                failures.push(format!("{}: timed out", call.what));
            }
        }
    }
    eprintln!(
        "{} calls, {} in flight while the master was down ({:?}), {} failed before every node \
         was back ({:?} after the kill): {failures:?}",
        calls.len(),
        during.len(),
        back.duration_since(killed),
        failures.len(),
        recovered.duration_since(killed)
    );
}
