//! The placement settings (`[cluster]` keys `placement` and `failover_grace`).

use std::time::Duration;

/// The `[cluster]` keys of placement.
pub const PLACEMENT_KEYS: &[&str] = &["placement", "failover_grace"];

/// Default time a node holding a `failover` copy must stay `down` before the copy moves.
pub const DEFAULT_FAILOVER_GRACE: Duration = Duration::from_secs(30);

/// How the master chooses a node for a watcher added without one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Lowest measured CPU % + memory %, then fewest processes, then name.
    #[default]
    LeastLoaded,
    /// Each eligible node in turn, by name.
    RoundRobin,
    /// Lowest memory % used by the node's processes, then fewest processes, then name.
    MostFreeMemory,
}

impl Strategy {
    /// Every strategy's name, for error messages.
    pub const NAMES: &'static str = "\"least-loaded\", \"round-robin\" or \"most-free-memory\"";

    /// Reads a strategy name.
    ///
    /// # Errors
    /// The name is not one of [`Strategy::NAMES`].
    pub fn parse(value: &str) -> Result<Strategy, String> {
        match value.trim() {
            "least-loaded" => Ok(Strategy::LeastLoaded),
            "round-robin" => Ok(Strategy::RoundRobin),
            "most-free-memory" => Ok(Strategy::MostFreeMemory),
            _ => Err(format!("'{value}' is not {}", Strategy::NAMES)),
        }
    }

    /// The name used in the configuration and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::LeastLoaded => "least-loaded",
            Strategy::RoundRobin => "round-robin",
            Strategy::MostFreeMemory => "most-free-memory",
        }
    }
}

/// The placement settings.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacementSettings {
    /// The strategy of requests that do not choose one (`properties.placement`).
    pub strategy: Strategy,
    /// How long a node holding a `failover` copy stays `down` before the copy moves.
    pub failover_grace: Duration,
}

impl Default for PlacementSettings {
    fn default() -> Self {
        PlacementSettings { strategy: Strategy::default(), failover_grace: DEFAULT_FAILOVER_GRACE }
    }
}

impl PlacementSettings {
    /// Sets the key `name` (one of [`PLACEMENT_KEYS`]) from its text.
    ///
    /// # Errors
    /// Why the value is refused.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        match name {
            "placement" => self.strategy = Strategy::parse(value)?,
            "failover_grace" => {
                let grace = humantime::parse_duration(value.trim())
                    .map_err(|e| format!("bad duration '{value}': {e} (write e.g. \"30s\")"))?;
                if grace.is_zero() {
                    return Err(format!("bad duration '{value}': must be more than zero"));
                }
                self.failover_grace = grace;
            }
            _ => return Err(format!("unknown key (known: {})", PLACEMENT_KEYS.join(", "))),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_read_and_checked() {
        let mut settings = PlacementSettings::default();
        assert_eq!(settings.strategy, Strategy::LeastLoaded);
        assert_eq!(settings.failover_grace, Duration::from_secs(30));
        settings.set("placement", "round-robin").unwrap();
        settings.set("failover_grace", "2s").unwrap();
        assert_eq!(
            settings,
            PlacementSettings { strategy: Strategy::RoundRobin, failover_grace: Duration::from_secs(2) }
        );
        let err = settings.set("placement", "random").unwrap_err();
        assert!(err.contains("least-loaded") && err.contains("'random'"), "{err}");
        assert!(settings.set("failover_grace", "0s").unwrap_err().contains("more than zero"));
    }
}
