//! `clusterd migrate-state --to etcd CONFIG`: copies the registered and discovered nodes of the
//! state file into etcd under `etcd_prefix`, for the move from `registry = "file"` to etcd
//! (docs/ha.md). A node already in etcd is left as it is (etcd is the newer truth once masters
//! use it), so running it twice changes nothing.

use etcd_client::{Compare, CompareOp, Txn, TxnOp};

use super::{bounded, connect, record, Keys};
use crate::config::Config;
use crate::state::StateFile;

/// What a migration did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Migrated {
    /// Nodes written to etcd.
    pub written: Vec<String>,
    /// Nodes etcd already had, left untouched.
    pub kept: Vec<String>,
}

/// Copies the state file of `config` into the etcd that `config` names.
///
/// # Errors
/// No state file is configured, it cannot be read, or etcd does not answer.
pub async fn migrate(config: &Config) -> Result<Migrated, String> {
    let settings = &config.cluster;
    let path = settings.state_file.as_deref().ok_or("state_file is empty: there is no state file to migrate")?;
    let nodes = StateFile::new(path).load().map_err(|err| err.to_string())?;
    let keys = Keys::new(&settings.registry.etcd_prefix);
    let mut client = connect(&settings.registry.etcd_endpoints).await?;
    let mut migrated = Migrated::default();
    for (spec, source) in nodes {
        let key = keys.node(&spec.name);
        // Written only where no master wrote it already (version 0: the key does not exist).
        let txn = Txn::new().when([Compare::version(key.clone(), CompareOp::Equal, 0)]).and_then([TxnOp::put(
            key,
            record::encode(&spec, source),
            None,
        )]);
        let reply = bounded("write a node", client.txn(txn)).await?;
        if reply.succeeded() {
            migrated.written.push(spec.name);
        } else {
            migrated.kept.push(spec.name);
        }
    }
    Ok(migrated)
}
