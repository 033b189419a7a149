//! Adding and removing watchers: `add`, `rm`. Both print circusctl's default `ok`.

use clusterd_protocol::Request;
use serde_json::json;

use super::request;

/// `add <name> <cmd>... [--start]`.
#[derive(clap::Args, Debug)]
pub struct AddArgs {
    /// Watcher name
    pub name: String,
    /// Command line of the watcher (joined with spaces; put `--` before arguments starting
    /// with `-`)
    #[arg(required = true, value_name = "CMD")]
    pub cmd: Vec<String>,
    /// start immediately the watcher
    #[arg(long)]
    pub start: bool,
}

/// `rm <name> [--waiting] [--nostop]`.
#[derive(clap::Args, Debug)]
pub struct RmArgs {
    /// Watcher name
    pub name: String,
    /// Accepted for compatibility; circusctl does not send it
    #[arg(long)]
    pub waiting: bool,
    /// Accepted for compatibility; circusctl does not send it (the watcher is stopped)
    #[arg(long)]
    pub nostop: bool,
}

/// `{"name", "cmd", "start"}`, the command line joined with spaces.
pub fn add_request(args: &AddArgs) -> Request {
    request("add", json!({ "name": args.name, "cmd": args.cmd.join(" "), "start": args.start }))
}

/// `{"name"}` only: circusctl drops `--nostop` and `--waiting`, and so do we, so that
/// `rm` behaves the same with both tools.
pub fn rm_request(args: &RmArgs) -> Request {
    request("rm", json!({ "name": args.name }))
}
