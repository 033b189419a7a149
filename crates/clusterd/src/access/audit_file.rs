//! `audit_log = "FILE"`: a tracing layer that appends each audit event to its own file as one
//! JSON object a line (`{"time": "...", "client": ..., "endpoint": ..., "command": ...,
//! "nodes": ..., "outcome": "ok" | "error", "errno": ..., "reason": ...}`), for tools that
//! watch it. Written by hand rather than with tracing-subscriber's `json` feature, which
//! would bring in another crate for ten lines of formatting.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::time::SystemTime;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// The layer; give it a filter that lets only the audit target through
/// (`tracing_subscriber::filter::Targets`).
pub struct AuditFile {
    file: Mutex<File>,
}

impl AuditFile {
    /// Opens `path` for appending, creating it (and not its folder) if needed.
    ///
    /// # Errors
    /// The file cannot be opened for writing.
    pub fn open(path: &Path) -> std::io::Result<AuditFile> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(AuditFile { file: Mutex::new(file) })
    }
}

impl<S: Subscriber> Layer<S> for AuditFile {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields(Map::new());
        fields.0.insert("time".into(), humantime::format_rfc3339_millis(SystemTime::now()).to_string().into());
        event.record(&mut fields);
        let mut line = Value::Object(fields.0).to_string();
        line.push('\n');
        // One write of the whole line: with O_APPEND, lines never interleave.
        let mut file = self.file.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Err(err) = file.write_all(line.as_bytes()) {
            // Not through tracing: this layer is part of it.
            eprintln!("clusterd: cannot write the audit log: {err}");
        }
    }
}

/// An event's fields as JSON values; the constant message ("audit") is left out.
struct Fields(Map<String, Value>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.insert(field, value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.insert(field, value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.insert(field, value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.insert(field, value.into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.insert(field, format!("{value:?}").into());
    }
}

impl Fields {
    fn insert(&mut self, field: &Field, value: Value) {
        if field.name() != "message" {
            self.0.insert(field.name().to_string(), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::prelude::*;

    #[test]
    fn one_json_line_per_audit_event_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let layer = AuditFile::open(&path)
            .unwrap()
            .with_filter(Targets::new().with_target(crate::access::audit::TARGET, tracing::Level::INFO));
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "clusterd::audit", client = "ab", command = "incr", errno = 3u64, "audit");
            tracing::info!(target: "clusterd::server", "not audited");
        });
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 1, "{text}");
        assert_eq!(lines[0]["command"], "incr");
        assert_eq!(lines[0]["errno"], 3);
        assert!(lines[0]["time"].as_str().unwrap().ends_with('Z'));
        assert!(lines[0].get("message").is_none());
    }
}
