//! Who can reach the master: its bound endpoints must be loopback or `ipc://` unless
//! `allow_remote = true`, because anyone who reaches a Circus command endpoint can `add` a
//! watcher, that is run any command on every node (docs/security.md).

use clusterd_protocol::endpoint::literal_ip;
use clusterd_protocol::Endpoint;

use super::discover_target::{parse_target, Target};
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
        bound.extend(self.logs_endpoint.as_ref().map(|ep| ("logs_endpoint", ep)));
        bound
    }

    /// The bound endpoints that other machines may reach (not loopback, `localhost` or `ipc://`).
    pub fn remote_endpoints(&self) -> Vec<(&'static str, &Endpoint)> {
        self.bound_endpoints().into_iter().filter(|(_, ep)| !ep.is_local()).collect()
    }

    /// Checks the bound endpoints: each in its own place (no two equal, `localhost` and
    /// `127.0.0.1` alike), and none reachable from another machine unless `allow_remote` says so.
    ///
    /// # Errors
    /// The key at fault and why.
    pub fn check_access(&self) -> Result<(), (&'static str, String)> {
        // Two sockets cannot bind one address: without this check the second bind fails at
        // start-up with `Address already in use`, naming no key.
        let bound = self.bound_endpoints();
        for (i, (key, endpoint)) in bound.iter().enumerate() {
            if let Some((first, _)) = bound[..i].iter().find(|(_, earlier)| earlier.same_place(endpoint)) {
                return Err((
                    key,
                    format!("{endpoint} is also the master's {first}: {first} and {key} need different addresses"),
                ));
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

impl ClusterSettings {
    /// Checks UDP discovery against the rest: an answer to a UDP query registers a node without
    /// any secret, so with `register_secret` set it needs `discover_trusted = true`; and the
    /// query socket binds loopback unless `allow_remote`, so a non-loopback target needs it.
    ///
    /// # Errors
    /// The key at fault and why, naming the keys that settle it.
    pub fn check_discovery(&self) -> Result<(), (&'static str, String)> {
        let udp_targets = self.discover.iter().filter_map(|text| match parse_target(text) {
            Ok(Target::Udp { address, .. }) => Some((text, address)),
            _ => None,
        });
        for (text, address) in udp_targets {
            if self.register_secret.is_some() && !self.discover_trusted {
                return Err((
                    "discover_trusted",
                    format!(
                        "discover = {text} registers whatever answers on the network, without \
                         register_secret: set discover_trusted = true to accept that, or drop the udp:// \
                         target (see {SECURITY_DOC})"
                    ),
                ));
            }
            let loopback = literal_ip(&address).is_some_and(|ip| ip.is_loopback());
            if !self.allow_remote && !loopback {
                return Err((
                    "discover",
                    format!(
                        "{text}: the udp discovery query binds loopback unless allow_remote = true, so it \
                         cannot reach {address} (see {SECURITY_DOC})"
                    ),
                ));
            }
        }
        Ok(())
    }
}
