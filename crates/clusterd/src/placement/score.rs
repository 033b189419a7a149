//! The scorer: pure functions from each node's measured load to a ranking, so that the choice
//! can be tested with fixed inputs and timed over thousands of nodes.
//!
//! Least-loaded: score = CPU % + memory % summed over the node's processes (from the last
//! stats window), lower is better, then fewer processes, then the name. Most-free-memory: the
//! memory % alone. Round-robin: the eligible nodes by name, starting one further at each turn.

use std::cmp::Ordering;

use serde::Serialize;

use super::settings::Strategy;

/// What was measured of one node.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeLoad {
    /// The node's name.
    pub name: String,
    /// Sum of its processes' CPU %.
    pub cpu: f64,
    /// Sum of its processes' memory % (of the node's memory, as circusd-stats reports it).
    pub mem: f64,
    /// Processes it runs, from the stats.
    pub processes: usize,
}

/// Why a node cannot take a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ineligible {
    /// Not `alive` (`down`, or `suspect`: it missed probes).
    NotAlive(&'static str),
    /// Outside `properties.constraint`.
    Constraint,
    /// Marked unschedulable with `drain`.
    Drained,
    /// Already holds a copy of the watcher (replicas go to distinct nodes).
    HoldsReplica,
}

impl Ineligible {
    /// The reason, as dry runs show it.
    pub fn describe(&self) -> String {
        match self {
            Ineligible::NotAlive(state) => format!("{state}: only alive nodes take new work"),
            Ineligible::Constraint => "excluded by the constraint".into(),
            Ineligible::Drained => "drained (unschedulable)".into(),
            Ineligible::HoldsReplica => "already holds a replica".into(),
        }
    }
}

/// A node and whether it may take a copy.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// Its load.
    pub load: NodeLoad,
    /// Why it may not, if it may not.
    pub ineligible: Option<Ineligible>,
}

/// One node's place in a ranking.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scored {
    /// The node.
    pub node: String,
    /// Whether it may take a copy.
    pub eligible: bool,
    /// Its score under the strategy (lower is better); `None` when not eligible.
    pub score: Option<f64>,
    /// Sum of its processes' CPU %.
    pub cpu: f64,
    /// Sum of its processes' memory %.
    pub mem: f64,
    /// Processes it runs.
    pub processes: usize,
    /// Why it scored so, or why it is not eligible.
    pub why: String,
}

/// Ranks `candidates` under `strategy`: eligible nodes best first, then the others by name.
/// `turn` is the round-robin position (how many placements it made before).
pub fn rank(candidates: &[Candidate], strategy: Strategy, turn: u64) -> Vec<Scored> {
    let mut eligible: Vec<&NodeLoad> = candidates.iter().filter(|c| c.ineligible.is_none()).map(|c| &c.load).collect();
    eligible.sort_by(|a, b| a.name.cmp(&b.name));
    let mut ranked: Vec<Scored> = match strategy {
        Strategy::RoundRobin => {
            let count = eligible.len();
            if count > 0 {
                eligible.rotate_left((turn % count as u64) as usize);
            }
            eligible
                .iter()
                .enumerate()
                .map(|(position, load)| {
                    let why = format!("round-robin: turn {turn}, position {position} of {}", eligible.len());
                    scored(load, position as f64, why)
                })
                .collect()
        }
        Strategy::LeastLoaded | Strategy::MostFreeMemory => {
            let mut ranked: Vec<Scored> = eligible
                .iter()
                .map(|load| {
                    let (score, why) = if strategy == Strategy::LeastLoaded {
                        let score = round(load.cpu + load.mem);
                        (score, format!("cpu {:.1}% + memory {:.1}% = {score:.1}", load.cpu, load.mem))
                    } else {
                        (round(load.mem), format!("memory {:.1}% used by its processes", load.mem))
                    };
                    scored(load, score, format!("{why}, {} processes", load.processes))
                })
                .collect();
            ranked.sort_by(|a, b| {
                let by_score = a.score.partial_cmp(&b.score).unwrap_or(Ordering::Equal);
                by_score.then(a.processes.cmp(&b.processes)).then_with(|| a.node.cmp(&b.node))
            });
            ranked
        }
    };
    let mut others: Vec<Scored> = candidates
        .iter()
        .filter_map(|c| {
            let reason = c.ineligible.as_ref()?;
            Some(Scored {
                node: c.load.name.clone(),
                eligible: false,
                score: None,
                cpu: round(c.load.cpu),
                mem: round(c.load.mem),
                processes: c.load.processes,
                why: reason.describe(),
            })
        })
        .collect();
    others.sort_by(|a, b| a.node.cmp(&b.node));
    ranked.extend(others);
    ranked
}

/// The first `wanted` eligible nodes of a ranking.
///
/// # Errors
/// Fewer eligible nodes than `wanted`: the reason names how many there are.
pub fn choose(ranked: &[Scored], wanted: usize) -> Result<Vec<String>, String> {
    let eligible: Vec<String> = ranked.iter().filter(|s| s.eligible).map(|s| s.node.clone()).collect();
    if eligible.len() < wanted {
        let list = if eligible.is_empty() { "none".to_string() } else { eligible.join(", ") };
        return Err(format!(
            "{wanted} replicas need {wanted} distinct eligible nodes, and {} are eligible ({list})",
            eligible.len()
        ));
    }
    Ok(eligible.into_iter().take(wanted).collect())
}

fn scored(load: &NodeLoad, score: f64, why: String) -> Scored {
    Scored {
        node: load.name.clone(),
        eligible: true,
        score: Some(score),
        cpu: round(load.cpu),
        mem: round(load.mem),
        processes: load.processes,
        why,
    }
}

/// Two decimals: the stats are no more precise, and ties stay ties.
fn round(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[cfg(test)]
#[path = "score_tests.rs"]
mod tests;
