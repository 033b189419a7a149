//! The master's log: everything to stderr (`-v`, `-vv`, `RUST_LOG` overrides), and with
//! `audit_log = "FILE"` the audit events (target `clusterd::audit`) to that file instead, one
//! JSON object a line.

use std::io::IsTerminal;
use std::path::Path;

use tracing::Level;
use tracing_subscriber::filter::{filter_fn, EnvFilter, FilterExt, Targets};
use tracing_subscriber::prelude::*;

use crate::access::audit::TARGET as AUDIT_TARGET;
use crate::access::audit_file::AuditFile;

/// Installs the global subscriber: stderr at `verbose` (0 info, 1 debug, 2+ trace), and the audit
/// file when `audit_log` is given.
///
/// # Errors
/// The audit log cannot be opened for appending (file and reason, for exit status 2): a master
/// asked to keep an audit trail does not run without one.
pub fn install(verbose: u8, audit_log: Option<&Path>) -> Result<(), String> {
    let level = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    // The etcd client's HTTP/2 stack (h2, tower, hyper, tonic) logs every frame at debug: kept
    // at info unless RUST_LOG asks for it.
    let level = match verbose {
        0 => level.to_string(),
        _ => format!("{level},h2=info,tower=info,hyper=info,hyper_util=info,tonic=info"),
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let audit = match audit_log {
        None => None,
        Some(path) => Some(
            AuditFile::open(path)
                .map_err(|err| format!("{}: audit_log: cannot open for appending: {err}", path.display()))?,
        ),
    };
    let to_file = audit.is_some();
    // Colours only on a terminal: log files and CI output stay plain text.
    let ansi = std::io::stderr().is_terminal();
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_filter(filter.and(filter_fn(move |meta| !(to_file && meta.target() == AUDIT_TARGET))));
    let audit = audit.map(|file| file.with_filter(Targets::new().with_target(AUDIT_TARGET, Level::INFO)));
    tracing_subscriber::registry().with(stderr).with(audit).init();
    Ok(())
}
