//! The state file: registered and discovered nodes, kept across master restarts.
//!
//! Written on every change of the registry, atomically: the new content goes to a fresh temp
//! file in the same folder (random name, created `O_EXCL` so an existing file or symlink there
//! is never opened or followed), is fsynced and renamed over `FILE` (the folder is fsynced too),
//! so a crash, `kill -9` or power loss leaves either the old or the new file, never half of one.
//! Before each write the current file is copied, the same way, to `FILE.prev`: the last good
//! copy, named in the error when `FILE` cannot be read. A rename replaces a symlink at `FILE` or
//! `FILE.prev` instead of writing through it.
//!
//! Format (JSON): `{"version": 1, "nodes": [{"name", "endpoint", "stats_endpoint",
//! "pubsub_endpoint", "source", "tags", "logs_endpoint"}], "placements": {...}}`; `placements`
//! (the desired state of placement, docs/placement.md) is left out when there is none, and
//! `logs_endpoint` (the node's log agent, docs/logs.md) when it registered none; files without
//! them load.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use tempfile::NamedTempFile;

use clusterd_protocol::names::validate_node_name;
use clusterd_protocol::Endpoint;
use serde::{Deserialize, Serialize};

use crate::config::NodeSpec;
use crate::registry::Source;

/// The only format version so far.
const VERSION: u32 = 1;

/// Why the state file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The file exists but is not a valid state file.
    #[error(
        "state file {path} is unreadable: {reason}; the last good copy is {prev} (restore it with \
         `mv {prev} {path}`), or start without the saved nodes with `clusterd --reset-state`"
    )]
    Corrupt {
        /// The file.
        path: String,
        /// The last good copy.
        prev: String,
        /// What is wrong.
        reason: String,
    },
    /// Reading or writing failed.
    #[error("state file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The failure.
        source: std::io::Error,
    },
}

#[derive(Serialize, Deserialize)]
struct Saved {
    version: u32,
    nodes: Vec<SavedNode>,
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    placements: serde_json::Value,
}

/// One node as saved: in the state file, and as the value of its key in etcd
/// (`crate::etcd::record`).
#[derive(Serialize, Deserialize)]
pub(crate) struct SavedNode {
    name: String,
    endpoint: String,
    stats_endpoint: Option<String>,
    pubsub_endpoint: Option<String>,
    source: String,
    #[serde(default)]
    tags: Vec<String>,
    /// The node's log agent (`register_node`'s `logs_endpoint`); never in etcd records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    logs_endpoint: Option<String>,
}

impl SavedNode {
    /// The saved form of `spec`.
    pub(crate) fn from_spec(spec: &NodeSpec, source: Source) -> SavedNode {
        SavedNode {
            name: spec.name.clone(),
            endpoint: spec.endpoint.to_string(),
            stats_endpoint: spec.stats_endpoint.as_ref().map(ToString::to_string),
            pubsub_endpoint: spec.pubsub_endpoint.as_ref().map(ToString::to_string),
            source: source.as_str().to_string(),
            tags: spec.tags.clone(),
            logs_endpoint: None,
        }
    }

    /// The node read back, checked (name, endpoints, source).
    ///
    /// # Errors
    /// What is wrong, naming the node.
    pub(crate) fn into_spec(self) -> Result<(NodeSpec, Source), String> {
        validate_node_name(&self.name)?;
        let name = &self.name;
        let endpoint = |text: &Option<String>| {
            text.as_deref().map(str::parse::<Endpoint>).transpose().map_err(|e| format!("node {name}: {e}"))
        };
        let source = match self.source.as_str() {
            "registered" => Source::Registered,
            "discovered" => Source::Discovered,
            other => return Err(format!("node {name}: unknown source '{other}' (registered or discovered)")),
        };
        let spec = NodeSpec {
            endpoint: self.endpoint.parse().map_err(|e| format!("node {name}: {e}"))?,
            stats_endpoint: endpoint(&self.stats_endpoint)?,
            pubsub_endpoint: endpoint(&self.pubsub_endpoint)?,
            tags: self.tags,
            name: self.name,
        };
        Ok((spec, source))
    }
}

/// The state file at one path.
#[derive(Debug, Clone)]
pub struct StateFile {
    path: PathBuf,
}

impl StateFile {
    /// The state file at `path`.
    pub fn new(path: &Path) -> Self {
        StateFile { path: path.to_path_buf() }
    }

    fn sibling(&self, suffix: &str) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(suffix);
        self.path.with_file_name(name)
    }

    fn io(&self, source: std::io::Error) -> StateError {
        StateError::Io { path: self.path.display().to_string(), source }
    }

    /// The saved nodes; none when the file does not exist yet.
    ///
    /// # Errors
    /// The file is corrupt (the message names it, the last good copy and `--reset-state`), or
    /// cannot be read.
    pub fn load(&self) -> Result<Vec<(NodeSpec, Source)>, StateError> {
        let text = match fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => return Err(self.io(err)),
        };
        self.parse(&text).map_err(|reason| StateError::Corrupt {
            path: self.path.display().to_string(),
            prev: self.sibling(".prev").display().to_string(),
            reason,
        })
    }

    /// The saved desired state of placement (`Null`: none, or a file written before it).
    ///
    /// # Errors
    /// As [`StateFile::load`].
    pub fn load_placements(&self) -> Result<serde_json::Value, StateError> {
        self.load()?;
        let text = fs::read_to_string(&self.path).unwrap_or_default();
        Ok(serde_json::from_str::<Saved>(&text).map(|saved| saved.placements).unwrap_or_default())
    }

    /// The saved log agents' endpoints, by node name (nodes saved without one are left out;
    /// one that is not an endpoint is left out too: its agent registers it again).
    ///
    /// # Errors
    /// As [`StateFile::load`].
    pub fn load_log_agents(&self) -> Result<BTreeMap<String, Endpoint>, StateError> {
        self.load()?;
        let text = fs::read_to_string(&self.path).unwrap_or_default();
        let nodes = serde_json::from_str::<Saved>(&text).map(|saved| saved.nodes).unwrap_or_default();
        Ok(nodes
            .into_iter()
            .filter_map(|node| Some((node.name, node.logs_endpoint?.parse::<Endpoint>().ok()?)))
            .collect())
    }

    fn parse(&self, text: &str) -> Result<Vec<(NodeSpec, Source)>, String> {
        let saved: Saved = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if saved.version != VERSION {
            return Err(format!("version {} is not one this clusterd reads ({VERSION})", saved.version));
        }
        saved.nodes.into_iter().map(SavedNode::into_spec).collect()
    }

    /// Writes `nodes` atomically, keeping the previous file as `FILE.prev`.
    ///
    /// # Errors
    /// The folder is not writable, or the disk is full.
    pub fn save(&self, nodes: &[(NodeSpec, Source)]) -> Result<(), StateError> {
        self.save_with(nodes, serde_json::Value::Null)
    }

    /// Writes `nodes` and the desired state of placement in the same atomic write.
    ///
    /// # Errors
    /// As [`StateFile::save`].
    pub fn save_with(&self, nodes: &[(NodeSpec, Source)], placements: serde_json::Value) -> Result<(), StateError> {
        self.save_all(nodes, &BTreeMap::new(), placements)
    }

    /// Writes `nodes`, their log agents' endpoints (`log_agents`, by node name) and the desired
    /// state of placement in the same atomic write.
    ///
    /// # Errors
    /// As [`StateFile::save`].
    pub fn save_all(
        &self,
        nodes: &[(NodeSpec, Source)],
        log_agents: &BTreeMap<String, Endpoint>,
        placements: serde_json::Value,
    ) -> Result<(), StateError> {
        let saved_node = |(spec, source): &(NodeSpec, Source)| SavedNode {
            logs_endpoint: log_agents.get(&spec.name).map(ToString::to_string),
            ..SavedNode::from_spec(spec, *source)
        };
        let saved = Saved { placements, version: VERSION, nodes: nodes.iter().map(saved_node).collect() };
        let text = serde_json::to_string_pretty(&saved).expect("state serializes");
        let dir = match self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            Some(dir) => dir.to_path_buf(),
            None => PathBuf::from("."),
        };
        let write = || -> std::io::Result<()> {
            fs::create_dir_all(&dir)?;
            // Keep the last good copy, but only of a file that is itself good.
            if let Ok(old) = fs::read_to_string(&self.path) {
                if self.parse(&old).is_ok() {
                    replace_file(&dir, &self.sibling(".prev"), old.as_bytes())?;
                }
            }
            replace_file(&dir, &self.path, text.as_bytes())?;
            File::open(&dir)?.sync_all()
        };
        write().map_err(|err| self.io(err))
    }

    /// Moves an unreadable state file aside (`FILE.corrupt`) so that the master starts without
    /// the saved nodes (`clusterd --reset-state`). Returns where it went, if it existed.
    ///
    /// # Errors
    /// The rename failed.
    pub fn reset(&self) -> Result<Option<PathBuf>, StateError> {
        if !self.path.exists() {
            return Ok(None);
        }
        let aside = self.sibling(".corrupt");
        fs::rename(&self.path, &aside).map_err(|err| self.io(err))?;
        Ok(Some(aside))
    }
}

/// Writes `content` to a new temp file in `dir` (random name, `O_EXCL`: never an existing file
/// or a symlink planted there), fsyncs it and renames it over `path`.
fn replace_file(dir: &Path, path: &Path, content: &[u8]) -> std::io::Result<()> {
    let mut file = NamedTempFile::new_in(dir)?;
    file.write_all(content)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|err| err.error)?;
    Ok(())
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
