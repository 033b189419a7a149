//! This master's lease and campaign, and who leads.
//!
//! A session: grant a lease of `etcd_lease_ttl`, keep it alive (a keepalive every third of the
//! TTL), campaign with it (the campaign returns once this master leads), and look up the leader
//! every [`LOOK_EVERY`] to publish `cluster.master.<name>.elected|resigned` when it changes.
//! When no keepalive is acknowledged for a whole TTL, or etcd says the lease is gone (it was
//! revoked while etcd or this master was frozen), the session ends: this master stops
//! deciding and marks the registry stale, then starts over with a new lease and a new campaign.
//! A master killed with `kill -9` sends no more keepalives: its lease, and with it its
//! leadership, ends within the TTL and a waiting campaign of another master returns.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use etcd_client::Client;
use serde_json::Map;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::{bounded, connect, Fence, Keys, RETRY_EVERY};
use crate::Ctx;

/// How often the leader's name is looked up.
const LOOK_EVERY: Duration = Duration::from_millis(300);

/// This master's current lease, to revoke when it stops.
#[derive(Clone, Default)]
pub struct LeaseSlot(Arc<Mutex<Option<(Client, i64)>>>);

impl LeaseSlot {
    fn set(&self, lease: Option<(Client, i64)>) {
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = lease;
    }
}

/// Revokes the lease in `slot`, if any: the leadership passes at once instead of after the TTL.
pub async fn revoke(slot: &LeaseSlot) {
    let lease = slot.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
    if let Some((mut client, id)) = lease {
        if let Err(reason) = bounded("revoke the lease", client.lease_revoke(id)).await {
            warn!(%reason, "lease not revoked: another master leads after etcd_lease_ttl");
        }
    }
}

/// Sessions, one after the other, until the master stops.
pub async fn run(ctx: Arc<Ctx>, keys: Keys, endpoints: Vec<String>, ttl: Duration, slot: LeaseSlot) {
    loop {
        let reason = match connect(&endpoints).await {
            Ok(client) => session(&ctx, &keys, client, ttl, &slot).await,
            Err(reason) => reason,
        };
        slot.set(None);
        if ctx.shared.may_decide() {
            info!(master = %ctx.shared.master(), "no longer leading");
        }
        // Once per outage, not once per retry.
        if ctx.shared.unavailable().is_none() {
            warn!(%reason, "etcd unavailable: the registry is stale, this master makes no decision");
        } else {
            debug!(%reason, "etcd still unavailable");
        }
        ctx.shared.set_unavailable(reason);
        tokio::time::sleep(RETRY_EVERY).await;
    }
}

/// One lease's life; returns why it ended.
async fn session(ctx: &Ctx, keys: &Keys, mut client: Client, ttl: Duration, slot: &LeaseSlot) -> String {
    let lease = match bounded("grant a lease", client.lease_grant(ttl.as_secs() as i64, None)).await {
        Ok(reply) => reply.id(),
        Err(reason) => return reason,
    };
    slot.set(Some((client.clone(), lease)));
    let (mut keeper, mut acks) = match bounded("keep the lease alive", client.lease_keep_alive(lease)).await {
        Ok(pair) => pair,
        Err(reason) => return reason,
    };
    ctx.shared.set_available();
    info!(master = %ctx.shared.master(), lease, "etcd lease granted: campaigning");
    // The campaign waits as long as another master leads: in a task of its own.
    let mut campaigner = client.clone();
    let (election, master) = (keys.election(), ctx.shared.master().to_string());
    let mut campaign = tokio::spawn(async move { campaigner.campaign(election, master, lease).await });
    let _abort_campaign = AbortOnDrop(campaign.abort_handle());
    let (mut last_ack, mut last_sent) = (Instant::now(), Instant::now().checked_sub(ttl).unwrap_or_else(Instant::now));
    let mut elected = false;
    let mut look = tokio::time::interval(LOOK_EVERY);
    loop {
        tokio::select! {
            _ = look.tick() => {
                if last_ack.elapsed() > ttl {
                    return format!("no keepalive answered for {}s", ttl.as_secs());
                }
                if last_sent.elapsed() >= ttl / 3 {
                    last_sent = Instant::now();
                    if let Err(reason) = bounded("send a keepalive", keeper.keep_alive()).await {
                        return reason;
                    }
                }
                look_at_leader(ctx, keys, &mut client).await;
            }
            ack = acks.message() => match ack {
                Ok(Some(ack)) if ack.ttl() > 0 => last_ack = Instant::now(),
                Ok(Some(_)) => return "lease expired".into(),
                Ok(None) => return "keepalive stream closed".into(),
                Err(err) => return format!("keepalive: {err}"),
            },
            won = &mut campaign, if !elected => {
                elected = true;
                match won {
                    Ok(Ok(reply)) => match reply.leader() {
                        Some(key) => {
                            ctx.shared.set_fence(Some(Fence { key: key.key().to_vec(), revision: key.rev() }));
                            info!(master = %ctx.shared.master(), revision = key.rev(), "elected leader");
                            announce(ctx, Some(ctx.shared.master().to_string()));
                        }
                        None => return "campaign answered without a leader key".into(),
                    },
                    Ok(Err(err)) => return format!("campaign: {err}"),
                    Err(err) => return format!("campaign: {err}"),
                }
            }
        }
    }
}

/// Looks up the leader and announces a change; a lookup that fails changes nothing (the
/// keepalives decide whether etcd is gone).
async fn look_at_leader(ctx: &Ctx, keys: &Keys, client: &mut Client) {
    let leader = match bounded("look up the leader", client.leader(keys.election())).await {
        Ok(reply) => reply.kv().and_then(|kv| kv.value_str().ok()).map(str::to_string),
        // "election: no leader" while nobody leads (between a leader's end and the next win).
        Err(reason) if reason.contains("no leader") => None,
        Err(_) => return,
    };
    announce(ctx, leader);
}

/// Records the leader; on a change publishes `cluster.master.<old>.resigned` and
/// `cluster.master.<new>.elected`.
fn announce(ctx: &Ctx, leader: Option<String>) {
    let Some(previous) = ctx.shared.set_leader(leader.clone()) else { return };
    let streams = ctx.registry.streams();
    for (name, event) in [(previous, "resigned"), (leader, "elected")] {
        if let Some(name) = name {
            let mut fields = Map::new();
            fields.insert("master".into(), name.clone().into());
            streams.cluster_event(&format!("master.{name}"), event, fields);
            info!(master = %name, event, "leadership changed");
        }
    }
}

/// Aborts a task when the session that started it ends.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
