use super::*;

fn node(name: &str, cpu: f64, mem: f64, processes: usize) -> Candidate {
    Candidate { load: NodeLoad { name: name.into(), cpu, mem, processes }, ineligible: None }
}

fn names(ranked: &[Scored]) -> Vec<&str> {
    ranked.iter().map(|s| s.node.as_str()).collect()
}

#[test]
fn least_loaded_ranks_by_cpu_plus_memory_then_processes_then_name() {
    let nodes = [
        node("busy", 95.0, 1.0, 1),
        node("b", 1.0, 2.0, 3),
        node("a", 2.0, 1.0, 3),
        node("c", 1.5, 1.5, 1),
        node("light", 0.5, 0.5, 9),
    ];
    let ranked = rank(&nodes, Strategy::LeastLoaded, 0);
    // light scores 1.0; c, a and b all score 3.0: c has fewer processes, a and b tie on both.
    assert_eq!(names(&ranked), ["light", "c", "a", "b", "busy"]);
    assert_eq!(ranked[4].score, Some(96.0));
    assert!(ranked[4].why.contains("cpu 95.0% + memory 1.0% = 96.0"), "{}", ranked[4].why);
    assert_eq!(choose(&ranked, 2).unwrap(), ["light", "c"]);
}

#[test]
fn most_free_memory_ignores_cpu() {
    let nodes = [node("a", 90.0, 1.0, 1), node("b", 0.0, 5.0, 1)];
    assert_eq!(names(&rank(&nodes, Strategy::MostFreeMemory, 0)), ["a", "b"]);
}

#[test]
fn round_robin_moves_one_node_further_each_turn() {
    let nodes = [node("c", 0.0, 0.0, 0), node("a", 50.0, 0.0, 0), node("b", 0.0, 0.0, 0)];
    let first = |turn| rank(&nodes, Strategy::RoundRobin, turn)[0].node.clone();
    assert_eq!([first(0), first(1), first(2), first(3)], ["a", "b", "c", "a"]);
}

#[test]
fn ineligible_nodes_come_last_with_their_reason_and_are_never_chosen() {
    let mut down = node("a", 0.0, 0.0, 0);
    down.ineligible = Some(Ineligible::NotAlive("down"));
    let mut outside = node("b", 0.0, 0.0, 0);
    outside.ineligible = Some(Ineligible::Constraint);
    let mut drained = node("c", 0.0, 0.0, 0);
    drained.ineligible = Some(Ineligible::Drained);
    let mut holder = node("d", 0.0, 0.0, 0);
    holder.ineligible = Some(Ineligible::HoldsReplica);
    let nodes = [holder, node("z", 80.0, 0.0, 4), down, outside, drained];
    let ranked = rank(&nodes, Strategy::LeastLoaded, 0);
    assert_eq!(names(&ranked), ["z", "a", "b", "c", "d"]);
    let reasons: Vec<&str> = ranked[1..].iter().map(|s| s.why.as_str()).collect();
    assert!(reasons[0].starts_with("down"), "{reasons:?}");
    assert_eq!(reasons[1..], ["excluded by the constraint", "drained (unschedulable)", "already holds a replica"]);
    assert!(ranked[1..].iter().all(|s| !s.eligible && s.score.is_none()));
    assert_eq!(choose(&ranked, 1).unwrap(), ["z"]);
    let err = choose(&ranked, 2).unwrap_err();
    assert!(err.contains("1 are eligible (z)"), "{err}");
    let none = rank(&nodes[2..], Strategy::RoundRobin, 7);
    assert!(choose(&none, 1).unwrap_err().contains("0 are eligible (none)"));
}
