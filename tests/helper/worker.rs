//! A worker circusd's ini, as an operator writes it to join a master with `clusterctl join`
//! (docs/operations.md, "Workers that join by themselves").

use crate::paths;

/// A worker ini template for [`crate::CircusNode::start_from_template`]: `[circus]` with `node`,
/// `master` (an endpoint) and, when given, `secret` (the master's `register_secret`); one `sleep`
/// watcher named `work` and the `cluster-join` watcher, which runs the built clusterctl on this
/// very ini (`{ini}`).
pub fn worker_ini(name: &str, master: &str, secret: Option<&str>) -> String {
    let secret = secret.map(|secret| format!("secret = {secret}\n")).unwrap_or_default();
    format!(
        "[circus]\nendpoint = {{endpoint}}\npubsub_endpoint = {{pubsub_endpoint}}\n\
         stats_endpoint = {{stats_endpoint}}\nstatsd = True\nmulticast_endpoint =\ncheck_delay = 10\n\
         warmup_delay = 0\nnode = {name}\nmaster = {master}\n{secret}\n\
         [watcher:work]\ncmd = sleep 3600\nnumprocesses = 1\ncopy_env = True\ngraceful_timeout = 2\n\n\
         [watcher:cluster-join]\ncmd = {clusterctl} join {{ini}}\ncopy_env = True\ngraceful_timeout = 5\n",
        clusterctl = paths::workspace_bin("clusterctl").display()
    )
}
