//! Who can reach the master: its bound endpoints must be loopback or `ipc://` unless
//! `allow_remote = true`, because anyone who reaches a Circus command endpoint can `add` a
//! watcher, that is run any command on every node (docs/security.md).

use clusterd_protocol::Endpoint;

use super::ClusterSettings;

/// Where to read about it, in every refusal and in the start-up warning.
pub const SECURITY_DOC: &str = "docs/security.md";

impl ClusterSettings {
    /// The endpoints the master binds, with their keys: the three of every master and the
    /// read-only one when set.
    pub fn bound_endpoints(&self) -> Vec<(&'static str, &Endpoint)> {
        let mut bound = vec![
            ("endpoint", &self.endpoint),
            ("stats_endpoint", &self.stats_endpoint),
            ("pubsub_endpoint", &self.pubsub_endpoint),
        ];
        bound.extend(self.readonly_endpoint.as_ref().map(|ep| ("readonly_endpoint", ep)));
        bound
    }

    /// The bound endpoints that other machines may reach (not loopback, `localhost` or `ipc://`).
    pub fn remote_endpoints(&self) -> Vec<(&'static str, &Endpoint)> {
        self.bound_endpoints().into_iter().filter(|(_, ep)| !ep.is_local()).collect()
    }

    /// Checks the bound endpoints: each in its own place, and none reachable from another
    /// machine unless `allow_remote` says so.
    ///
    /// # Errors
    /// The key at fault and why.
    pub fn check_access(&self) -> Result<(), (&'static str, String)> {
        if let Some(readonly) = &self.readonly_endpoint {
            for (key, other) in self.bound_endpoints().into_iter().filter(|(key, _)| *key != "readonly_endpoint") {
                if readonly.same_place(other) {
                    return Err((
                        "readonly_endpoint",
                        format!("{readonly} is also the master's {key}: the read-only endpoint needs its own address"),
                    ));
                }
            }
        }
        if self.allow_remote {
            return Ok(());
        }
        match self.remote_endpoints().first() {
            None => Ok(()),
            Some((key, endpoint)) => Err((
                key,
                format!(
                    "{endpoint} can be reached from other machines and the Circus protocol has no \
                     authentication: bind 127.0.0.1, ::1, localhost or ipc://, or set allow_remote = true \
                     (see {SECURITY_DOC})"
                ),
            )),
        }
    }
}
