//! The failover decision under a fake clock: instants are built from one start point.

use super::*;
use crate::placement::Placement;

const GRACE: Duration = Duration::from_secs(30);

fn placement(name: &str, nodes: &[&str], failover: bool) -> Placement {
    Placement {
        name: name.into(),
        add: Map::new(),
        constraint: None,
        replicas: nodes.len(),
        failover,
        strategy: None,
        nodes: nodes.iter().map(|n| n.to_string()).collect(),
        epoch: 1,
        superseded: BTreeMap::new(),
        held: None,
    }
}

fn desired(placements: Vec<Placement>) -> Desired {
    Desired { placements: placements.into_iter().map(|p| (p.name.clone(), p)).collect(), ..Desired::default() }
}

/// Nodes by name, each (state, seconds after `t0` its state began).
fn seen(t0: Instant, nodes: &[(&str, NodeState, u64)]) -> BTreeMap<String, Seen> {
    nodes
        .iter()
        .map(|(name, state, at)| (name.to_string(), Seen { state: *state, since: t0 + Duration::from_secs(*at) }))
        .collect()
}

use NodeState::{Alive, Down, Suspect};

#[test]
fn a_copy_fails_over_only_after_the_grace() {
    let t0 = Instant::now();
    let want = desired(vec![placement("web", &["a"], true), placement("pinned", &["a"], false)]);
    let nodes = seen(t0, &[("a", Down, 10), ("b", Alive, 0), ("c", Alive, 0)]);
    assert!(decide(&want, &nodes, t0 + Duration::from_secs(39), GRACE).is_empty(), "within the grace");
    let actions = decide(&want, &nodes, t0 + Duration::from_secs(40), GRACE);
    assert_eq!(actions, [Action::Failover { watcher: "web".into(), from: "a".into() }]);
    let suspect = seen(t0, &[("a", Suspect, 0), ("b", Alive, 0), ("c", Alive, 0)]);
    assert!(decide(&want, &suspect, t0 + Duration::from_secs(100), GRACE).is_empty(), "suspect is not down");
}

#[test]
fn the_guard_holds_when_most_nodes_vanish_within_one_grace() {
    let t0 = Instant::now();
    let want = desired(vec![placement("web", &["a"], true)]);
    // Three of four frozen within seconds of each other: the master is the likely cut-off one.
    let nodes = seen(t0, &[("a", Down, 0), ("b", Down, 2), ("c", Suspect, 5), ("d", Alive, 0)]);
    let actions = decide(&want, &nodes, t0 + Duration::from_secs(60), GRACE);
    let [Action::Hold { watcher, from, reason }] = actions.as_slice() else { panic!("{actions:?}") };
    assert_eq!((watcher.as_str(), from.as_str()), ("web", "a"));
    assert!(reason.contains("partition guard: 3 of 4 nodes (a, b, c)"), "{reason}");
    // The same three, lost far apart in time: independent failures, not a partition.
    let apart = seen(t0, &[("a", Down, 100), ("b", Down, 0), ("c", Down, 200), ("d", Alive, 0)]);
    let actions = decide(&want, &apart, t0 + Duration::from_secs(200), GRACE);
    assert_eq!(actions, [Action::Failover { watcher: "web".into(), from: "a".into() }]);
    // Half is not more than half.
    let half = seen(t0, &[("a", Down, 0), ("b", Down, 0), ("c", Alive, 0), ("d", Alive, 0)]);
    assert!(matches!(decide(&want, &half, t0 + Duration::from_secs(31), GRACE)[0], Action::Failover { .. }));
}

#[test]
fn a_superseded_copy_is_conciliated_only_once_its_node_is_alive() {
    let t0 = Instant::now();
    let mut moved = placement("web", &["b"], true);
    moved.epoch = 2;
    moved.superseded.insert("a".into(), 2);
    let want = desired(vec![moved]);
    let frozen = seen(t0, &[("a", Down, 0), ("b", Alive, 0), ("c", Alive, 0)]);
    assert!(decide(&want, &frozen, t0 + Duration::from_secs(300), GRACE).is_empty(), "never while unseen");
    let back = seen(t0, &[("a", Alive, 300), ("b", Alive, 0), ("c", Alive, 0)]);
    let actions = decide(&want, &back, t0 + Duration::from_secs(301), GRACE);
    assert_eq!(actions, [Action::Conciliate { watcher: "web".into(), node: "a".into() }]);
}
