//! The desired state: every placed watcher (what to run, where, under which rules), the drained
//! nodes and the assignment epoch, kept in memory and persisted in the state file.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One placed watcher.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Placement {
    /// The watcher's name (the same on every node holding a copy).
    pub name: String,
    /// The `add` request's properties as the nodes got them (`cmd`, `args`, `options`,
    /// `start`...), so that a copy can be started again elsewhere.
    pub add: Map<String, Value>,
    /// `properties.constraint`: the node set the copies may run on (`None`: any node).
    pub constraint: Option<String>,
    /// How many copies, on distinct nodes.
    pub replicas: usize,
    /// Whether a copy on a node `down` for `failover_grace` moves elsewhere.
    pub failover: bool,
    /// `properties.placement`, when the request chose its own strategy.
    pub strategy: Option<String>,
    /// The nodes holding a copy now.
    pub nodes: Vec<String>,
    /// The assignment epoch of the last change of `nodes`: the newest epoch wins.
    pub epoch: u64,
    /// Nodes a copy was moved away from while they were not seen (failover), with the epoch of
    /// the move: when such a node is seen again still running its copy, that copy is removed
    /// there (conciliation).
    #[serde(default)]
    pub superseded: BTreeMap<String, u64>,
    /// Why failover is held back now (the partition guard), if it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<String>,
}

impl Placement {
    /// The entry of `placements`.
    pub fn describe(&self) -> Value {
        let mut entry = serde_json::to_value(self).expect("a placement serializes");
        if let Value::Object(map) = &mut entry {
            map.insert("cmd".into(), self.add.get("cmd").cloned().unwrap_or(Value::Null));
            map.insert("held".into(), self.held.clone().map_or(Value::Null, Value::String));
        }
        entry
    }
}

/// Everything placement keeps.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Desired {
    /// Placed watchers by name.
    #[serde(default)]
    pub placements: BTreeMap<String, Placement>,
    /// Nodes marked unschedulable by `drain`.
    #[serde(default)]
    pub drained: BTreeSet<String>,
    /// The last assignment epoch given out.
    #[serde(default)]
    pub epoch: u64,
}

impl Desired {
    /// A new epoch, higher than every one given before.
    pub fn next_epoch(&mut self) -> u64 {
        self.epoch += 1;
        self.epoch
    }

    /// The placements holding a copy on `node`, by name.
    pub fn on_node(&self, node: &str) -> Vec<String> {
        self.placements.values().filter(|p| p.nodes.iter().any(|n| n == node)).map(|p| p.name.clone()).collect()
    }

    /// What the state file keeps (`Null` when there is nothing, so that old readers and
    /// files without placements stay as they were).
    pub fn to_saved(&self) -> Value {
        if *self == Desired::default() {
            return Value::Null;
        }
        serde_json::to_value(self).expect("the desired state serializes")
    }

    /// Reads what [`Desired::to_saved`] wrote; `Null` (an older state file) is an empty state.
    ///
    /// # Errors
    /// The saved value is not a desired state.
    pub fn from_saved(saved: &Value) -> Result<Desired, String> {
        if saved.is_null() {
            return Ok(Desired::default());
        }
        serde_json::from_value(saved.clone()).map_err(|e| format!("placements: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_state_round_trips_and_null_is_empty() {
        let mut desired = Desired::default();
        assert_eq!(desired.to_saved(), Value::Null);
        assert_eq!(Desired::from_saved(&Value::Null).unwrap(), desired);
        let epoch = desired.next_epoch();
        let mut add = Map::new();
        add.insert("cmd".into(), "sleep 3600".into());
        desired.placements.insert(
            "web".into(),
            Placement {
                name: "web".into(),
                add,
                constraint: Some("@eu".into()),
                replicas: 2,
                failover: true,
                strategy: None,
                nodes: vec!["a".into(), "b".into()],
                epoch,
                superseded: BTreeMap::new(),
                held: None,
            },
        );
        desired.drained.insert("c".into());
        let back = Desired::from_saved(&desired.to_saved()).unwrap();
        assert_eq!(back, desired);
        assert_eq!(back.on_node("b"), ["web"]);
        assert_eq!(back.placements["web"].describe()["cmd"], "sleep 3600");
        assert!(Desired::from_saved(&serde_json::json!({"placements": 3})).is_err());
    }
}

#[cfg(test)]
mod state_file_tests {
    use super::*;
    use crate::state::StateFile;

    #[test]
    fn the_desired_state_shares_the_state_file_and_old_files_still_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        // A state file written before placement existed.
        std::fs::write(&path, r#"{"version": 1, "nodes": []}"#).unwrap();
        let file = StateFile::new(&path);
        assert!(file.load().unwrap().is_empty());
        assert_eq!(file.load_placements().unwrap(), Value::Null);
        let mut desired = Desired::default();
        desired.drained.insert("b".into());
        desired.next_epoch();
        file.save_with(&[], desired.to_saved()).unwrap();
        assert_eq!(Desired::from_saved(&file.load_placements().unwrap()).unwrap(), desired);
        // Saving nodes without placements leaves no `placements` key for older readers.
        file.save(&[]).unwrap();
        assert!(!std::fs::read_to_string(&path).unwrap().contains("placements"));
    }
}
