//! Discovery over a subnet: seed 000's range scan ("IP addresses of the nodes form a range") and
//! Circus's UDP multicast discovery, both finding circusd on other hosts of the lab.

use cluster_e2e::lab::Lab;
use cluster_e2e::master::{assert_entry, CLUSTER_SECTION};
use cluster_e2e::node::Binding;
use cluster_e2e::{CircusNode, Master};

use super::{node_names, wait_circusctl_line};
use crate::discovery::{rounds, wait_listed, wait_rounds};

/// A multicast group for Circus's UDP discovery. Each lab is a bridge of its own that nothing
/// else is plugged into, so labs never hear each other's queries and a query never leaves.
const GROUP: &str = "udp://239.255.70.19:12027";

/// A master on host `m` that discovers `target` every second; `extra` is more `[cluster]` lines.
fn discovering_master(lab: &Lab, target: &str, extra: &str) -> Master {
    let text =
        format!("{CLUSTER_SECTION}discover = [\"{target}\"]\ndiscover_interval = \"1s\"\nstate_file = \"\"\n{extra}");
    lab.within("m", || Master::start_unsettled(&text))
}

#[test]
fn a_range_scan_finds_every_circusd_on_the_subnet_and_no_empty_address() {
    let Some(lab) = Lab::new(["h1", "h2", "h3"]) else { return };
    // h2 is a host without circusd (its port 5555 refuses); .14-.20 are no host at all.
    let h1 = lab.circusd("h1", &[("w1", 1)]);
    let h3 = lab.circusd("h3", &[("w3", 2)]);
    let master = discovering_master(&lab, &format!("tcp://{}.10-20:5555", lab.net()), "");
    let (name1, name3) = (lab.discovered_name("h1", 5555), lab.discovered_name("h3", 5555));

    lab.within("m", || {
        assert_entry(&master.wait_alive(&name1), &h1, "discovered");
        assert_entry(&master.wait_alive(&name3), &h3, "discovered");
        wait_listed(&master, &format!("{name3}:w3"));
        // Two more complete rounds over the range find nothing else.
        wait_rounds(&master, rounds(&master), 2);
    });
    assert_eq!(node_names(&lab, &master), vec![name1.clone(), name3.clone()]);
    // Stock circusctl on the master's host sees the watchers of both hosts.
    wait_circusctl_line(&lab, &master, &["status"], &format!("{name1}:w1: active"));
    wait_circusctl_line(&lab, &master, &["status"], &format!("{name3}:w3: active"));
    wait_circusctl_line(&lab, &master, &["numprocesses", &format!("{name3}:w3")], "2");
}

/// A circusd on `host` that answers Circus's UDP discovery on [`GROUP`]: the one circusd config
/// of the tests with a `multicast_endpoint`, reached only over the lab's bridge.
fn multicast_circusd(lab: &Lab, host: &str) -> CircusNode {
    let template = format!(
        "[circus]\nendpoint = {{endpoint}}\npubsub_endpoint = {{pubsub_endpoint}}\n\
         stats_endpoint = {{stats_endpoint}}\nstatsd = True\ncheck_delay = 10\nwarmup_delay = 0\n\
         multicast_endpoint = {GROUP}\n\n\
         [watcher:w]\ncmd = sleep 3600\nnumprocesses = 1\ncopy_env = True\ngraceful_timeout = 2\n"
    );
    lab.within(host, || {
        CircusNode::start_from_template_at(Binding::host(lab.address(host)), host, &template, &[("w", 1)])
    })
}

#[test]
fn udp_multicast_discovery_finds_the_circusd_that_listen_on_the_bridge() {
    let Some(lab) = Lab::new(["h1", "h2", "h3"]) else { return };
    let h1 = multicast_circusd(&lab, "h1");
    let h2 = multicast_circusd(&lab, "h2");
    // A circusd with multicast off (as everywhere else) is not found by a query.
    let _quiet = lab.circusd("h3", &[("w", 1)]);
    // The query leaves loopback for the group, which a master allows only with allow_remote.
    let master = discovering_master(&lab, GROUP, "allow_remote = true\n");
    let (name1, name2) = (lab.discovered_name("h1", 5555), lab.discovered_name("h2", 5555));

    lab.within("m", || {
        assert_entry(&master.wait_alive(&name1), &h1, "discovered");
        assert_entry(&master.wait_alive(&name2), &h2, "discovered");
        wait_listed(&master, &format!("{name2}:w"));
        wait_rounds(&master, rounds(&master), 2);
    });
    assert_eq!(node_names(&lab, &master), vec![name1.clone(), name2]);
    for node in [&h1, &h2] {
        assert!(!node.log().contains("Multicast discovery is disabled"), "{}", node.log());
    }
    wait_circusctl_line(&lab, &master, &["status"], &format!("{name1}:w: active"));
}
