//! A partition of one host: cut off at the switch, it goes `down` after `down_after` (3) missed
//! heartbeats while the master keeps answering for the others; healed, it is `alive` again and
//! its stats flow on the merged stream, without anything asked of the master.

use cluster_e2e::lab::Lab;
use cluster_e2e::master::{node_section, CLUSTER_SECTION};
use cluster_e2e::stream::Stream;
use cluster_e2e::{json, Master};

use super::wait_circusctl_line;

#[test]
fn a_cut_host_goes_down_the_others_answer_and_it_comes_back_with_its_streams() {
    let Some(lab) = Lab::new(["h1", "h2"]) else { return };
    let h1 = lab.circusd("h1", &[("w1", 1)]);
    let h2 = lab.circusd("h2", &[("w2", 1)]);
    let config = format!("{CLUSTER_SECTION}state_file = \"\"\n{}{}", node_section(&h1), node_section(&h2));
    let master = lab.within("m", || Master::start_with_config(&config));
    let stats = lab.within("m", || {
        master.wait_all_alive(&["h1".to_string(), "h2".to_string()]);
        let stats = Stream::subscribe(&master.stats_endpoint, &["stat."]);
        stats.wait_for("stats from h2", |m| m.payload["node"] == "h2");
        stats
    });

    lab.cut("h2");
    lab.within("m", || {
        master.wait_node_state("h2", "down");
        // Within 3 heartbeats: `down` came with the third probe missed in a row, not later.
        let log = master.stderr();
        let down = log
            .lines()
            .find(|l| l.contains("node state changed") && l.contains("node=h2") && l.contains("to=\"down\""))
            .unwrap_or_else(|| panic!("no transition of h2 to down logged:\n{log}"));
        assert!(down.contains("missed=3"), "{down}");
        // The master still answers for the others: h1 alive, its watcher read through the master.
        assert_eq!(master.node_entry("h1").expect("h1")["state"], "alive");
        let status = master.call("status", json!({"name": "h1:w1"}));
        assert_eq!(status["status"], "active", "{status}");
        let reply = master.call("status", json!({"name": "h2:w2"}));
        assert_eq!(reply["status"], "error", "a down node fails at once: {reply}");
    });
    wait_circusctl_line(&lab, &master, &["status", "h1:w1"], "active");

    lab.heal("h2");
    lab.within("m", || {
        master.wait_node_state("h2", "alive");
        stats.drain();
        stats.wait_for("stats from h2 after the heal", |m| m.payload["node"] == "h2");
        let status = master.call("status", json!({"name": "h2:w2"}));
        assert_eq!(status["status"], "active", "{status}");
    });
}
