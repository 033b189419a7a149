//! Who wants which node's streams: the lazy streams.
//!
//! The merged PUBs are XPUBs: they report the topic prefixes their subscribers hold (the first
//! subscriber of a prefix and the last one gone). A node's feed holds its stats SUB only while
//! some prefix can match a topic of that node (`stat.<node>-...`, or `stat.sockets...`, which
//! every node's socket stats feed) and its events SUB only while one can match
//! `watcher.<node>:...`: `""`, `stat.`, `stat.fi` and `stat.first-web` all want `first`'s stats,
//! `stat.second-` does not. In-process readers (the dashboard's view, placement measuring load)
//! hold a [`Demand`] while they read, which wants every node's streams. With nobody, the master
//! holds no stream connection to any node.

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::sync::watch;

/// What the subscribers want now.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Interest {
    /// Prefixes held by subscribers of the merged stats stream.
    pub stats: BTreeSet<Vec<u8>>,
    /// Prefixes held by subscribers of the merged event stream.
    pub events: BTreeSet<Vec<u8>>,
    /// In-process readers that want everything.
    pub internal: usize,
}

/// Which of a node's streams are wanted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Wanted {
    /// The node's stats stream.
    pub stats: bool,
    /// The node's event stream.
    pub events: bool,
}

impl Interest {
    /// What is wanted of `node`.
    pub fn of(&self, node: &str) -> Wanted {
        if self.internal > 0 {
            return Wanted { stats: true, events: true };
        }
        let stats = format!("stat.{node}-");
        let events = format!("watcher.{node}:");
        Wanted {
            stats: can_match(&self.stats, stats.as_bytes()) || can_match(&self.stats, b"stat.sockets"),
            events: can_match(&self.events, events.as_bytes()),
        }
    }
}

/// Whether a subscriber holding one of `prefixes` can receive a topic starting with `head`
/// (the log hub's followers ask the same, `logs/feed.rs`).
pub fn can_match(prefixes: &BTreeSet<Vec<u8>>, head: &[u8]) -> bool {
    prefixes.iter().any(|prefix| head.starts_with(prefix) || prefix.starts_with(head))
}

/// An in-process reader's demand for every node's streams; dropping it withdraws it.
pub struct Demand {
    interest: Arc<watch::Sender<Interest>>,
}

impl Demand {
    /// Registers a demand on `interest`.
    pub fn new(interest: &Arc<watch::Sender<Interest>>) -> Demand {
        interest.send_modify(|i| i.internal += 1);
        Demand { interest: Arc::clone(interest) }
    }
}

impl Drop for Demand {
    fn drop(&mut self) {
        self.interest.send_modify(|i| i.internal -= 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> BTreeSet<Vec<u8>> {
        items.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn a_node_is_wanted_by_any_prefix_that_can_match_its_topics() {
        let stats =
            |prefixes: &[&str], node: &str| Interest { stats: set(prefixes), ..Interest::default() }.of(node).stats;
        assert!(stats(&[""], "first"));
        assert!(stats(&["stat."], "first"));
        assert!(stats(&["stat.fi"], "first"));
        assert!(stats(&["stat.first-"], "first"));
        assert!(stats(&["stat.first-web.12"], "first"));
        assert!(!stats(&["stat.first-"], "second"));
        assert!(!stats(&["stat.first-"], "first2"));
        assert!(stats(&["stat.sockets"], "second"), "socket stats come from every node");
        assert!(!stats(&[], "first"));
        let events = |prefixes: &[&str]| Interest { events: set(prefixes), ..Interest::default() }.of("first");
        assert_eq!(events(&["watcher."]), Wanted { stats: false, events: true });
        assert_eq!(events(&["watcher.first:web.start"]), Wanted { stats: false, events: true });
        assert_eq!(events(&["cluster."]), Wanted::default());
        assert_eq!(events(&["watcher.second:"]), Wanted::default());
    }

    #[test]
    fn in_process_readers_want_everything_while_they_read() {
        let interest = Arc::new(watch::channel(Interest::default()).0);
        assert_eq!(interest.borrow().of("n"), Wanted::default());
        let demand = Demand::new(&interest);
        let other = Demand::new(&interest);
        assert_eq!(interest.borrow().of("n"), Wanted { stats: true, events: true });
        drop(demand);
        assert_eq!(interest.borrow().of("n"), Wanted { stats: true, events: true });
        drop(other);
        assert_eq!(interest.borrow().of("n"), Wanted::default());
    }
}
