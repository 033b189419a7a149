//! Feeds arbitrary text to the node-set parser and resolves what parses against a fixed cluster,
//! as the master does with `nodeset`, `properties.node` and `EXPR:watcher` from any client: it
//! must never panic, never select a node that does not exist, and keep the cluster's order.

#![no_main]

use clusterd_protocol::nodeset::{self, Member, MAX_EXPRESSION_LEN};
use libfuzzer_sys::fuzz_target;

/// Names shaped like real clusters' (padded and unpadded ranges, tags).
const NAMES: &[&str] = &["first", "second", "web1", "web2", "web10", "node01", "node02", "node1", "r1n2", "r12n3", "db-a", "x_1"];
const TAGS: &[&[&str]] = &[&["eu"], &["us", "canary"], &[], &["eu", "canary"]];

fuzz_target!(|bytes: &[u8]| {
    let text = String::from_utf8_lossy(bytes);
    let tags: Vec<Vec<String>> = TAGS.iter().map(|t| t.iter().map(|s| s.to_string()).collect()).collect();
    let members: Vec<Member<'_>> =
        NAMES.iter().enumerate().map(|(i, name)| Member { name, tags: &tags[i % tags.len()] }).collect();
    match nodeset::parse(&text) {
        Ok(set) => {
            assert!(text.trim().len() <= MAX_EXPRESSION_LEN);
            if let Ok(selected) = set.resolve(&members) {
                assert!(!selected.is_empty());
                let at: Vec<usize> =
                    selected.iter().map(|s| NAMES.iter().position(|n| n == s).expect("a member")).collect();
                assert!(at.windows(2).all(|w| w[0] < w[1]), "member order, once each");
            }
        }
        // Errors are one line and bounded, whatever the input's size.
        Err(reason) => assert!(!reason.contains('\n') && reason.len() < 2048, "{reason:?}"),
    }
});
