//! Tests across hosts of their own: each test builds a [`Lab`] (network namespaces on a bridge,
//! `10.200.N.0/24`, no route out), runs real circusd on its hosts and the master on host `m`,
//! and talks to them from inside the lab ([`Lab::within`]). They need root and `ip`; elsewhere
//! each prints `lab: skipped: <why>` and passes.
//!
//! * [`fixture`]: the lab itself (reachability, cuts, no route out, cleanup after a panic);
//! * [`discovery`]: the range scan of a subnet and Circus's UDP multicast discovery on the bridge;
//! * [`join`]: a worker joining from another host with `register_secret`, a wrong secret refused;
//! * [`partition`]: a host cut off goes `down`, the others answer, it comes back by itself.
//!
//! Placement (failover copies, the partition guard) and etcd scenarios come with those features.

mod discovery;
mod fixture;
mod join;
mod partition;

use cluster_e2e::lab::Lab;
use cluster_e2e::{json, wait_for, Master};

/// The names `nodes` lists, sorted.
fn node_names(lab: &Lab, master: &Master) -> Vec<String> {
    lab.within("m", || {
        let reply = master.call("nodes", json!({}));
        let mut names: Vec<String> = reply["nodes"]
            .as_array()
            .unwrap_or_else(|| panic!("nodes: {reply}"))
            .iter()
            .filter_map(|n| n["name"].as_str().map(String::from))
            .collect();
        names.sort();
        names
    })
}

/// Waits until `line` is one of circusctl's lines (`status` prints `<watcher>: <status>`), run
/// against the master from host `m`.
fn wait_circusctl_line(lab: &Lab, master: &Master, args: &[&str], line: &str) {
    wait_for(&format!("`circusctl {}` to print {line:?}", args.join(" ")), || {
        let run = lab.within("m", || cluster_e2e::cli::circusctl(&master.endpoint, args));
        if run.code == 0 && run.stdout.lines().any(|l| l.trim() == line) {
            Ok(())
        } else {
            Err(format!("{run:?}"))
        }
    });
}
