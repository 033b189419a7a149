//! Scale, with simulated nodes (the `simnode` binary; Circus itself is tested against real
//! circusd everywhere else): 200 nodes registered, all alive, and one fan-out `status`
//! answered by every one of them. The speed at scale is measured by `make bench`, not here.

use std::time::Duration;

use cluster_e2e::master::CLUSTER_SECTION;
use cluster_e2e::{json, ok, wait_for, Master, Request, SimNodes, Value};

const NODES: usize = 200;

#[test]
fn two_hundred_registered_simnodes_are_alive_and_all_answer_a_fan_out() {
    let sims = SimNodes::start(NODES, &[]);
    let master = Master::start_with_config(CLUSTER_SECTION);
    sims.register_all(&master);

    let alive = wait_for("200 nodes alive", || {
        let reply = master.call("nodes", json!({}));
        let nodes = reply["nodes"].as_array().cloned().unwrap_or_default();
        let alive = nodes.iter().filter(|n| n["state"] == "alive").count();
        if nodes.len() == NODES && alive == NODES {
            Ok(alive)
        } else {
            Err(format!("{} listed, {alive} alive", nodes.len()))
        }
    });
    assert_eq!(alive, NODES);

    let client = master.client(Duration::from_secs(20));
    let properties = match json!({"node": "all", "name": "w0"}) {
        Value::Object(map) => map,
        _ => unreachable!("an object literal"),
    };
    let reply = client.call(&Request::new("status", properties)).expect("the fan-out is answered");
    let reply = ok(Value::Object(reply.0));
    let replies = reply["replies"].as_object().unwrap_or_else(|| panic!("no replies: {reply}"));
    assert_eq!(replies.len(), NODES, "{reply}");
    for sim in &sims.nodes {
        let answer = &replies[&sim.name];
        assert_eq!(answer["status"], "active", "{}: {answer}", sim.name);
    }
}
