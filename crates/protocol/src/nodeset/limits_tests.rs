//! The cost limits of node-set expressions (issue 11): ranges are matched, not expanded, and
//! every limit is named in its error.

use super::*;
use proptest::prelude::*;

/// Owned node list; `members` borrows it the way the daemon does.
type Nodes = Vec<(String, Vec<String>)>;

fn nodes(list: &[(&str, &[&str])]) -> Nodes {
    list.iter().map(|(name, tags)| (name.to_string(), tags.iter().map(|t| t.to_string()).collect())).collect()
}

fn members(nodes: &Nodes) -> Vec<Member<'_>> {
    nodes.iter().map(|(name, tags)| Member { name, tags }).collect()
}

fn select<'a>(expr: &str, nodes: &'a Nodes) -> Result<Vec<&'a str>, String> {
    parse(expr)?.resolve(&members(nodes))
}

fn numbered(count: usize) -> Nodes {
    (1..=count).map(|i| (format!("n{i}"), vec![])).collect()
}

#[test]
fn ranges_are_matched_not_expanded() {
    let c = numbered(5000);
    assert_eq!(select("n[1-99999]", &c).unwrap().len(), 5000);
    assert_eq!(select("n[4999-99999]", &c).unwrap(), ["n4999", "n5000"]);
    let padded = nodes(&[("n0001", &[]), ("n001", &[]), ("n1", &[]), ("n10000", &[])]);
    assert_eq!(select("n[0001-9999]", &padded).unwrap(), ["n0001"]);
    assert_eq!(select("n[0001-99999]", &padded).unwrap(), ["n0001", "n10000"], "wider numbers keep all digits");
    let wide = format!("n[{}1-99999]", "0".repeat(60));
    assert!(select(&wide, &c).is_err(), "padding to 61 digits matches no 2-digit name");
    let grid = nodes(&[("r12n3", &[]), ("r1n23", &[]), ("r123", &[])]);
    assert_eq!(select("r[1-12]n[1-23]", &grid).unwrap(), ["r12n3", "r1n23"]);
    assert_eq!(select("r[1-9][1-99]", &grid).unwrap(), ["r123"], "adjacent groups split the digits any way");
}

#[test]
fn limits_are_named_in_errors() {
    let c = numbered(50);
    let huge = format!("n[{}1-99999]", "0".repeat(20_000));
    let err = parse(&huge).unwrap_err();
    assert!(err.contains("bytes long (limit 16384)"), "{err}");
    assert!(err.len() < 200, "the expression is quoted in part: {} bytes", err.len());
    let padded = format!("n[{}1-99999]", "0".repeat(100));
    let err = parse(&padded).unwrap_err();
    assert!(err.contains("zero padding of 101 digits is wider than a node name (limit 63)"), "{err}");
    let long_item = "n".repeat(300);
    let err = parse(&long_item).unwrap_err();
    assert!(err.contains("is 300 characters long (limit 256)"), "{err}");
    let many = vec!["n[1-99999]"; 300].join(",");
    let err = parse(&many).unwrap_err();
    assert!(err.contains("more than 256 items (limit 256)"), "{err}");
    let exactly = vec!["n1"; 256].join(",");
    assert_eq!(select(&exactly, &c).unwrap(), ["n1"]);
}

#[test]
fn matching_work_is_bounded() {
    let c = numbered(5000);
    let heavy = vec!["n[1-99999]"; 250].join(",");
    let err = select(&heavy, &c).unwrap_err();
    assert!(err.contains("needs more than 5,000,000 matching steps over 5,000 nodes"), "{err}");
    let globs = vec!["*n*1*"; 250].join(",");
    assert!(select(&globs, &c).unwrap_err().contains("matching steps"));
    // The same expressions are fine on a small cluster.
    assert_eq!(select(&heavy, &numbered(100)).unwrap().len(), 100);
}

#[test]
fn long_node_lists_are_truncated_in_errors() {
    let err = select("zz*", &numbered(5000)).unwrap_err();
    assert_eq!(err, "node set 'zz*' matches no node (nodes: n1, n2, n3, n4, n5 ... and 4,995 more)");
}

proptest! {
    #[test]
    fn matching_agrees_with_expansion(
        spec in "[a-c]{0,2}(\\[(0?[0-9]{1,2}(-[0-9]{1,3})?)(,0?[0-9]{1,2}(-[0-9]{1,3})?){0,2}\\][a-c0-9]{0,2}){1,2}",
        names in proptest::collection::vec("[a-c]{0,2}[0-9]{0,4}[a-c]{0,2}[0-9]{0,3}[a-c0-9]{0,2}", 1..40),
    ) {
        let Ok(set) = parse(&spec) else { return Ok(()) };
        let Some((_, Item::Range(range))) = set.items.first() else { return Ok(()) };
        let expanded = range.expand();
        for name in &names {
            let matched = range.matches(name, &mut Budget { left: u64::MAX });
            prop_assert_eq!(matched, expanded.contains(name.as_str()), "{} vs {}", spec, name);
        }
        for name in expanded.iter().take(50) {
            prop_assert!(range.matches(name, &mut Budget { left: u64::MAX }), "{} vs {}", spec, name);
        }
    }
}
