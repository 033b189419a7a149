//! The end of a job: nodes grouped by outcome, JSON lines, and the exit status.
//!
//! One line per group, `<outcome> (<count>): <nodes>[: <reason>] [<durations>]`, the `exit 0`
//! group first, then the others largest first; durations are the group's range, `[0.21s-0.30s]`.

use std::time::Duration;

use clusterd_protocol::pyjson;
use serde_json::{json, Value};

use super::output::Outputs;
use super::state::Outcome;
use crate::error::exit;
use crate::fold::{fold, natural_cmp};

/// The exit status when the job was interrupted (128 + SIGINT, as a shell reports it).
pub const INTERRUPTED: i32 = 130;

impl Outcome {
    /// True for an exit with code 0.
    pub fn succeeded(&self) -> bool {
        matches!(self, Outcome::Exited { code: Some(0), .. })
    }

    /// `exit 0`, `exit ?`, `timed out`, `failed to start`, `interrupted`, `lost`.
    pub fn label(&self) -> String {
        match self {
            Outcome::Exited { code: Some(code), .. } => format!("exit {code}"),
            Outcome::Exited { code: None, .. } => "exit ?".into(),
            Outcome::TimedOut { .. } => "timed out".into(),
            Outcome::FailedToStart { .. } => "failed to start".into(),
            Outcome::Interrupted { .. } => "interrupted".into(),
            Outcome::Lost { .. } => "lost".into(),
        }
    }

    /// The reason of a failure to start or a loss.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Outcome::FailedToStart { reason } | Outcome::Lost { reason } => Some(reason),
            _ => None,
        }
    }

    /// How long the process ran, when it did.
    pub fn duration(&self) -> Option<Duration> {
        match self {
            Outcome::Exited { duration, .. } | Outcome::TimedOut { duration } | Outcome::Interrupted { duration } => {
                Some(*duration)
            }
            Outcome::FailedToStart { .. } | Outcome::Lost { .. } => None,
        }
    }

    /// `exited`, `timed_out`, `failed_to_start`, `interrupted`, `lost`.
    fn kind(&self) -> &'static str {
        match self {
            Outcome::Exited { .. } => "exited",
            Outcome::TimedOut { .. } => "timed_out",
            Outcome::FailedToStart { .. } => "failed_to_start",
            Outcome::Interrupted { .. } => "interrupted",
            Outcome::Lost { .. } => "lost",
        }
    }
}

/// Nodes that ended the same way.
struct Group<'a> {
    label: String,
    reason: Option<&'a str>,
    succeeded: bool,
    nodes: Vec<String>,
    durations: Vec<Duration>,
}

/// One line per group of nodes with the same outcome (and reason).
pub fn summary_lines(outcomes: &[(String, Outcome)]) -> Vec<String> {
    let mut groups: Vec<Group<'_>> = Vec::new();
    for (node, outcome) in outcomes {
        let (label, reason) = (outcome.label(), outcome.reason());
        let index = match groups.iter().position(|group| group.label == label && group.reason == reason) {
            Some(index) => index,
            None => {
                let succeeded = outcome.succeeded();
                groups.push(Group { label, reason, succeeded, nodes: Vec::new(), durations: Vec::new() });
                groups.len() - 1
            }
        };
        groups[index].nodes.push(node.clone());
        groups[index].durations.extend(outcome.duration());
    }
    groups.sort_by(|a, b| {
        (b.succeeded.cmp(&a.succeeded))
            .then_with(|| b.nodes.len().cmp(&a.nodes.len()))
            .then_with(|| natural_cmp(&a.nodes[0], &b.nodes[0]))
    });
    groups
        .into_iter()
        .map(|group| {
            let mut line = format!("{} ({}): {}", group.label, group.nodes.len(), fold(&group.nodes));
            if let Some(reason) = group.reason {
                line.push_str(&format!(": {reason}"));
            }
            if let Some(range) = durations_text(&group.durations) {
                line.push_str(&format!(" [{range}]"));
            }
            line
        })
        .collect()
}

/// `0.21s` or `0.21s-0.30s`.
fn durations_text(durations: &[Duration]) -> Option<String> {
    let min = durations.iter().min()?;
    let max = durations.iter().max()?;
    let text = |d: &Duration| format!("{:.2}s", d.as_secs_f64());
    Some(if min == max { text(min) } else { format!("{}-{}", text(min), text(max)) })
}

/// One JSON object per node: `{"node", "outcome", "exit_code", "duration", "reason", "output"}`.
pub fn json_lines(outcomes: &[(String, Outcome)], outputs: &Outputs) -> Vec<String> {
    outcomes
        .iter()
        .map(|(node, outcome)| {
            let code = match outcome {
                Outcome::Exited { code, .. } => json!(code),
                _ => Value::Null,
            };
            let duration = outcome.duration().map(|d| (d.as_secs_f64() * 1000.0).round() / 1000.0);
            pyjson::dumps(&json!({
                "node": node,
                "outcome": outcome.kind(),
                "exit_code": code,
                "duration": duration,
                "reason": outcome.reason(),
                "output": outputs.json(node),
            }))
        })
        .collect()
}

/// 0 when every job exited 0, 130 when interrupted, 3 otherwise.
pub fn exit_code(outcomes: &[(String, Outcome)], interrupted: bool) -> i32 {
    if interrupted {
        INTERRUPTED
    } else if outcomes.iter().all(|(_, outcome)| outcome.succeeded()) {
        exit::OK
    } else {
        exit::ERROR_REPLY
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exited(code: Option<i64>, millis: u64) -> Outcome {
        Outcome::Exited { code, duration: Duration::from_millis(millis) }
    }

    fn sample() -> Vec<(String, Outcome)> {
        vec![
            ("first".into(), exited(Some(0), 210)),
            ("second".into(), exited(Some(1), 50)),
            ("third".into(), exited(Some(0), 300)),
            ("web1".into(), Outcome::TimedOut { duration: Duration::from_secs(60) }),
            ("web2".into(), Outcome::TimedOut { duration: Duration::from_secs(60) }),
            ("web3".into(), Outcome::FailedToStart { reason: "node web3 is down".into() }),
            ("web4".into(), exited(None, 1200)),
            ("web5".into(), Outcome::Lost { reason: "program x not found".into() }),
        ]
    }

    #[test]
    fn outcomes_are_grouped_successes_first() {
        assert_eq!(
            summary_lines(&sample()),
            [
                "exit 0 (2): first,third [0.21s-0.30s]",
                "timed out (2): web[1-2] [60.00s]",
                "exit 1 (1): second [0.05s]",
                "failed to start (1): web3: node web3 is down",
                "exit ? (1): web4 [1.20s]",
                "lost (1): web5: program x not found",
            ]
        );
    }

    #[test]
    fn reasons_split_groups() {
        let outcomes = vec![
            ("a".into(), Outcome::FailedToStart { reason: "x".into() }),
            ("b".into(), Outcome::FailedToStart { reason: "y".into() }),
            ("c".into(), Outcome::FailedToStart { reason: "x".into() }),
        ];
        assert_eq!(summary_lines(&outcomes), ["failed to start (2): a,c: x", "failed to start (1): b: y"]);
    }

    #[test]
    fn json_and_exit_status() {
        let mut outputs = Outputs::default();
        outputs.text.insert("first".into(), "hello\nworld".into());
        let lines = json_lines(&sample(), &outputs);
        assert_eq!(
            lines[0],
            r#"{"node": "first", "outcome": "exited", "exit_code": 0, "duration": 0.21, "reason": null, "output": "hello\nworld"}"#
        );
        assert_eq!(
            lines[3],
            r#"{"node": "web1", "outcome": "timed_out", "exit_code": null, "duration": 60.0, "reason": null, "output": null}"#
        );
        assert_eq!(
            lines[5],
            r#"{"node": "web3", "outcome": "failed_to_start", "exit_code": null, "duration": null, "reason": "node web3 is down", "output": null}"#
        );
        assert_eq!(exit_code(&sample(), false), exit::ERROR_REPLY);
        assert_eq!(exit_code(&sample()[..1], false), exit::OK);
        assert_eq!(exit_code(&sample()[..1], true), INTERRUPTED);
        assert_eq!(exit_code(&[("a".into(), exited(None, 1))], false), exit::ERROR_REPLY);
    }
}
