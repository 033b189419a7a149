//! A master restarted over its state file knows the nodes' log agents again (issue 16): the
//! agent re-registers only when the master forgets its node, so without the saved
//! `logs_endpoint` a restored node would answer `logs` with "no log agent" until then.

use cluster_e2e::cli::clusterctl;
use cluster_e2e::master::CLUSTER_SECTION;
use cluster_e2e::worker::{logging_worker, FILE_STREAM, PRINTER};
use cluster_e2e::{ports, wait_for, Master};

/// How many times the master's log says `node` registered.
fn registrations(master: &Master, node: &str) -> usize {
    master.stderr().lines().filter(|l| l.contains("node registered") && l.contains(&format!("node={node}"))).count()
}

#[test]
fn logs_work_after_a_restart_over_the_state_file_without_a_new_registration() {
    let logs = ports::free_endpoint();
    let mut master = Master::start_with_config(&format!("{CLUSTER_SECTION}logs_endpoint = \"{logs}\"\n"));
    let _node = logging_worker("lgstate", &master, PRINTER, FILE_STREAM);
    let state = master.dir().join("clusterd-state.json");
    wait_for("the state file to hold the agent", || {
        let text = std::fs::read_to_string(&state).map_err(|e| e.to_string())?;
        if text.contains("\"logs_endpoint\"") {
            Ok(())
        } else {
            Err(text)
        }
    });
    let before = registrations(&master, "lgstate");
    assert_eq!(before, 1, "{}", master.stderr());

    master.kill9();
    master.restart();
    master.wait_node_state("lgstate", "alive");
    let text = wait_for("the last lines of lgstate", || {
        let args = ["--endpoint", master.endpoint.as_str(), "--node", "lgstate", "logs", "printer", "-n", "3"];
        let out = clusterctl(&args);
        if out.code == 0 && out.stdout.lines().count() == 3 {
            Ok(out.stdout)
        } else {
            Err(format!("{out:?}"))
        }
    });
    assert!(text.lines().all(|l| l.starts_with("lgstate:printer[")), "{text}");
    // Known from the state file: the agent did not have to register again.
    assert_eq!(registrations(&master, "lgstate"), before, "{}", master.stderr());
}
