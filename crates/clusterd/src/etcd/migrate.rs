//! `clusterd migrate-state --to etcd CONFIG`: copies the registered and discovered nodes and the
//! placement state (placed watchers, drained nodes, the assignment epoch) of the state file into
//! etcd under `etcd_prefix`, for the move from `registry = "file"` to etcd (docs/ha.md). A key
//! already in etcd is left as it is (etcd is the newer truth once masters use it), so running it
//! twice changes nothing.

use etcd_client::{Compare, CompareOp, Txn, TxnOp};

use super::placement_store::encode;
use super::{bounded, connect, record, Keys};
use crate::config::Config;
use crate::placement::Desired;
use crate::state::StateFile;

/// What a migration did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Migrated {
    /// Nodes written to etcd.
    pub written: Vec<String>,
    /// Nodes etcd already had, left untouched.
    pub kept: Vec<String>,
    /// Placed watchers written to etcd.
    pub placements_written: Vec<String>,
    /// Placed watchers etcd already had, left untouched.
    pub placements_kept: Vec<String>,
}

/// Copies the state file of `config` into the etcd that `config` names.
///
/// # Errors
/// No state file is configured, it cannot be read, or etcd does not answer.
pub async fn migrate(config: &Config) -> Result<Migrated, String> {
    let settings = &config.cluster;
    let path = settings.state_file.as_deref().ok_or("state_file is empty: there is no state file to migrate")?;
    let file = StateFile::new(path);
    let nodes = file.load().map_err(|err| err.to_string())?;
    let desired = Desired::from_saved(&file.load_placements().map_err(|err| err.to_string())?)?;
    let keys = Keys::new(&settings.registry.etcd_prefix);
    let mut client = connect(&settings.registry.etcd_endpoints).await?;
    let mut migrated = Migrated::default();
    for (spec, source) in nodes {
        let written = put_if_absent(&mut client, keys.node(&spec.name), record::encode(&spec, source)).await?;
        if written { &mut migrated.written } else { &mut migrated.kept }.push(spec.name);
    }
    for (name, placement) in &desired.placements {
        // `held` is the old master's view at the time, not a decision.
        let value = encode(&crate::placement::Placement { held: None, ..placement.clone() });
        let written = put_if_absent(&mut client, keys.placed(name), value).await?;
        if written { &mut migrated.placements_written } else { &mut migrated.placements_kept }.push(name.clone());
    }
    for node in &desired.drained {
        put_if_absent(&mut client, keys.drained(node), String::new()).await?;
    }
    if desired.epoch > 0 {
        put_if_absent(&mut client, keys.epoch(), desired.epoch.to_string()).await?;
    }
    Ok(migrated)
}

/// Writes `value` at `key` only where nobody wrote it already (version 0: the key does not
/// exist); true when written.
async fn put_if_absent(client: &mut etcd_client::Client, key: String, value: String) -> Result<bool, String> {
    let txn =
        Txn::new().when([Compare::version(key.clone(), CompareOp::Equal, 0)]).and_then([TxnOp::put(key, value, None)]);
    Ok(bounded("write to etcd", client.txn(txn)).await?.succeeded())
}
