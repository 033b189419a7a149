//! The options every command takes (`--endpoint`, `--timeout`, `--json`, `--node`, the rolling
//! options), apart from the command line's syntax so that the modules running commands read
//! them without depending on the parser ([`crate::cli`]).

use std::time::Duration;

/// Environment variable read when `--endpoint` is not given.
pub const ENDPOINT_ENV: &str = "CLUSTERCTL_ENDPOINT";

/// Options accepted before or after any command.
#[derive(clap::Args, Debug, Clone)]
pub struct GlobalArgs {
    /// The master's (or a circusd's) command endpoint, for every command, listen and top
    /// included [env: CLUSTERCTL_ENDPOINT] [default: tcp://127.0.0.1:5558]
    #[arg(long, global = true, value_name = "ENDPOINT")]
    pub endpoint: Option<String>,
    /// Seconds to wait for a reply
    #[arg(long, global = true, value_name = "SECONDS", default_value = "5", value_parser = crate::duration::parse_timeout)]
    pub timeout: Duration,
    /// Print the reply as JSON (and exit 0 even on an error reply); for listen, one JSON object
    /// per event
    #[arg(long, global = true)]
    pub json: bool,
    /// With --json: indent the JSON and sort its keys
    #[arg(long, global = true)]
    pub prettify: bool,
    /// Run the command on this node, or on a node set: first,third  web*  node[1-3]  @tag  all
    /// all!second (sent as the "node" property; see "Node sets" below)
    #[arg(long, global = true, value_name = "EXPR")]
    pub node: Option<String>,
    /// Rolling operation: send the command to N nodes of the --node set at a time
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub batch: Option<u32>,
    /// After each batch (the whole set without --batch), wait until the command's watcher is
    /// active on every node of the batch (stopped after stop)
    #[arg(long, global = true)]
    pub wait: bool,
    /// With --batch: go on with the next batches after a failed one
    #[arg(long = "keep-going", global = true)]
    pub keep_going: bool,
}
