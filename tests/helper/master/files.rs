//! The files a master runs on: config sections for its nodes and its `[cluster]` keys, and
//! running clusterd on a config it must refuse.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::{paths, procs, CircusNode};

/// The `[node.NAME]` section for `node`.
pub fn node_section(node: &CircusNode) -> String {
    format!(
        "\n[node.{}]\nendpoint = \"{}\"\npubsub_endpoint = \"{}\"\nstats_endpoint = \"{}\"\n",
        node.name, node.endpoint, node.pubsub_endpoint, node.stats_endpoint
    )
}

/// A `[cluster]` section with placeholders for the master's endpoints and the documented
/// timeouts (node_timeout 4 s, below circusctl's 5 s).
pub const CLUSTER_SECTION: &str = "[cluster]\nendpoint = \"{endpoint}\"\nstats_endpoint = \"{stats_endpoint}\"\n\
    pubsub_endpoint = \"{pubsub_endpoint}\"\nnode_timeout = \"4s\"\nwaiting_timeout = \"30s\"\nheartbeat = \"1s\"\n";

/// Runs clusterd on `config` and waits for it to exit (for configs it must refuse).
///
/// # Panics
/// When it is still running after 10 s (it is then killed).
pub fn run_to_exit(config: &std::path::Path) -> Output {
    let mut child = procs::spawn(
        Command::new(paths::workspace_bin("clusterd"))
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    if !procs::wait_exit(&mut child, Duration::from_secs(10)) {
        procs::terminate(&mut child, Duration::from_secs(1));
        let out = child.wait_with_output().expect("output");
        panic!("clusterd kept running on {}:\n{}", config.display(), String::from_utf8_lossy(&out.stderr));
    }
    child.wait_with_output().expect("clusterd output")
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write_file(dir: &std::path::Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write file");
    path
}
