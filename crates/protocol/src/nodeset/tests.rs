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

fn cluster() -> Nodes {
    let mut list = nodes(&[
        ("first", &["eu"]),
        ("second", &["eu", "canary"]),
        ("third", &["us"]),
        ("web1", &["eu"]),
        ("web2", &["us", "canary"]),
        ("node01", &[]),
        ("node02", &[]),
        ("r1n2", &[]),
        ("r2n3", &[]),
    ]);
    list.extend((1..=30).map(|i| (format!("node{i}"), vec![])));
    list
}

#[test]
fn issue_examples() {
    let c = cluster();
    let all = select("all", &c).unwrap();
    assert_eq!(all.len(), c.len());
    let no_second = select("all!second", &c).unwrap();
    assert_eq!(no_second.len(), c.len() - 1);
    assert!(!no_second.contains(&"second"));
    let range = select("node[1-20,25]", &c).unwrap();
    let expected: Vec<String> = (1..=20).chain([25]).map(|i| format!("node{i}")).collect();
    assert_eq!(range, expected);
    assert_eq!(select("@eu!@canary", &c).unwrap(), ["first", "web1"]);
    assert_eq!(select("web*", &c).unwrap(), ["web1", "web2"]);
    assert_eq!(select("first,third", &c).unwrap(), ["first", "third"]);
}

#[test]
fn item_forms() {
    let c = cluster();
    assert_eq!(select("second", &c).unwrap(), ["second"]);
    assert_eq!(select("@canary", &c).unwrap(), ["second", "web2"]);
    assert_eq!(
        select("node?", &c).unwrap(),
        ["node1", "node2", "node3", "node4", "node5", "node6", "node7", "node8", "node9"]
    );
    assert_eq!(select("*d", &c).unwrap(), ["second", "third"]);
    assert_eq!(select("r*n?", &c).unwrap(), ["r1n2", "r2n3"]);
    assert_eq!(select("node[01-03]", &c).unwrap(), ["node01", "node02"]);
    assert_eq!(select("node[1-3]", &c).unwrap(), ["node1", "node2", "node3"]);
    assert_eq!(select("node[007,2]", &c).unwrap(), ["node2"]);
    assert_eq!(select("r[1-2]n[1-3]", &c).unwrap(), ["r1n2", "r2n3"]);
    assert_eq!(select("node2[5-9]", &c).unwrap(), ["node25", "node26", "node27", "node28", "node29"]);
    assert_eq!(select("@eu&web*", &c).unwrap(), ["web1"]);
}

#[test]
fn operators_apply_left_to_right() {
    let c = cluster();
    assert_eq!(select("first,second!second", &c).unwrap(), ["first"]);
    assert_eq!(select("first!first,second", &c).unwrap(), ["second"]);
    assert_eq!(select("web*,first&@eu", &c).unwrap(), ["first", "web1"]);
    assert_eq!(select("@eu,@us!node*&@canary", &c).unwrap(), ["second", "web2"]);
    assert_eq!(select(" third , first ", &c).unwrap(), ["first", "third"], "member order, whitespace ignored");
    assert_eq!(select("first,first,@eu", &c).unwrap(), ["first", "second", "web1"]);
}

#[test]
fn absent_names() {
    let c = cluster();
    let unknown = |expr: &str, name: &str| {
        assert_eq!(select(expr, &c).unwrap_err(), format!("unknown node '{name}' in '{}'", expr.trim()), "{expr}");
    };
    unknown("frist", "frist");
    unknown(" frist ", "frist");
    unknown("first,frist", "frist");
    unknown("web*&frist", "frist");
    assert_eq!(select("all!frist", &c).unwrap().len(), c.len(), "excluding an absent node is fine");
    assert_eq!(select("first,node[40-50],zz*,@nope", &c).unwrap(), ["first"]);
    let small = nodes(&[("a", &[]), ("b", &[]), ("c", &[])]);
    assert_eq!(select("zz*", &small).unwrap_err(), "node set 'zz*' matches no node (nodes: a, b, c)");
    assert_eq!(select("a!a", &small).unwrap_err(), "node set 'a!a' matches no node (nodes: a, b, c)");
    assert_eq!(select("all", &Nodes::new()).unwrap_err(), "node set 'all' matches no node (nodes: none)");
    let twice = nodes(&[("a", &[]), ("b", &[]), ("a", &[])]);
    assert_eq!(select("all", &twice).unwrap(), ["a", "b"], "duplicate members are listed once");
}

#[test]
fn accessors() {
    let set = parse("  first ").unwrap();
    assert_eq!((set.as_str(), set.single_name()), ("first", Some("first")));
    for expr in ["all", "first,second", "a!b", "a&b", "web*", "node?", "n[1-2]", "@eu"] {
        assert_eq!(parse(expr).unwrap().single_name(), None, "{expr}");
        assert!(is_expression(expr), "{expr}");
    }
    assert_eq!(parse(" a , b ").unwrap().as_str(), "a , b");
    for plain in ["first", "web-01_a", "alls", " first "] {
        assert!(!is_expression(plain), "{plain}");
    }
}

#[test]
fn parse_errors() {
    let cases = [
        ("", "empty node set expression"),
        ("   ", "empty node set expression"),
        ("a,,b", "bad node set 'a,,b': empty item at position 3"),
        ("a, ,b", "bad node set 'a, ,b': empty item at position 3"),
        ("a!", "bad node set 'a!': empty item at position 3"),
        ("&a", "bad node set '&a': empty item at position 1"),
        (
            "a.b",
            "bad node set 'a.b': '.' at position 2 is not allowed in a node name (use letters, digits, '-' and '_')",
        ),
        ("first, a b", "bad node set 'first, a b': ' ' at position 9 is not allowed in a node name"),
        ("x,é", "bad node set 'x,é': 'é' at position 3 is not allowed in a node name"),
        ("@", "bad node set '@': '@' at position 1 needs a tag name"),
        ("a,@eu*", "bad node set 'a,@eu*': '*' at position 6 is not allowed in a tag"),
        ("a@b", "bad node set 'a@b': '@' at position 2 is not allowed in a node name"),
        ("node[1-3", "bad node set 'node[1-3': unclosed '[' at position 5"),
        ("a,node[1,2", "bad node set 'a,node[1,2': unclosed '[' at position 7"),
        ("node1-3]", "bad node set 'node1-3]': unbalanced ']' at position 8"),
        ("n[1]]", "bad node set 'n[1]]': unbalanced ']' at position 5"),
        ("n[1[2]]", "bad node set 'n[1[2]]': nested '[' at position 4"),
        ("node[]", "bad node set 'node[]': empty brackets '[]' at position 5"),
        ("node[5-1]", "bad node set 'node[5-1]': bad range '5-1' at position 6: 5 is greater than 1"),
        ("n[1,,2]", "bad node set 'n[1,,2]': empty range element at position 5 in '[1,,2]'"),
        ("n[1-a]", "bad node set 'n[1-a]': bad range '1-a' at position 3: expected N or N-M"),
        ("n[1-2-3]", "bad node set 'n[1-2-3]': bad range '1-2-3' at position 3: expected N or N-M"),
        ("n[ 1]", "bad node set 'n[ 1]': bad range ' 1' at position 3"),
        ("n[99999999999999999999]", "number too large"),
        ("n*[1-2]", "bad node set 'n*[1-2]': '*' at position 2 is not allowed in a range"),
        ("node[1-200000]", "bad node set 'node[1-200000]': range 'node[1-200000]' expands to more than 100000 names"),
        ("r[1-1000]n[0-100]", "range 'r[1-1000]n[0-100]' expands to more than 100000 names"),
        ("n[0-18446744073709551615]", "expands to more than 100000 names"),
    ];
    for (expr, message) in cases {
        let err = parse(expr).unwrap_err();
        assert!(err.starts_with(message) || err.contains(message), "{expr}: {err}");
    }
    assert!(parse("n[1-100000]").is_ok(), "exactly the limit");
}

#[test]
fn globs() {
    let g = |pattern: &str, name: &str| glob_match(&pattern.chars().collect::<Vec<_>>(), name);
    assert!(g("*", "") && g("*", "abc") && g("a*c", "abbbc") && g("a?c", "abc") && g("**a", "a"));
    assert!(!g("a?c", "ac") && !g("a*d", "abc") && !g("?", "") && !g("abc", "ab"));
    let long = "a".repeat(5000);
    assert!(!g("a*a*a*a*a*a*a*b", &long), "no exponential backtracking");
}

// ---- properties ----

const POOL: &[&str] = &["web1", "web2", "web10", "node01", "node02", "node1", "node2", "node11", "db", "db-a", "x_1"];
const TAGS: &[&str] = &["eu", "us", "canary"];

fn node_list() -> impl Strategy<Value = Nodes> {
    proptest::sample::subsequence(POOL.to_vec(), 0..=POOL.len())
        .prop_flat_map(|names| {
            let n = names.len();
            (Just(names), proptest::collection::vec(proptest::sample::subsequence(TAGS.to_vec(), 0..=2), n))
        })
        .prop_map(|(names, tags)| {
            names
                .into_iter()
                .zip(tags)
                .map(|(n, t)| (n.to_owned(), t.into_iter().map(str::to_owned).collect()))
                .collect()
        })
}

/// One item: a name (present or not), `all`, a tag, a glob or a range.
fn atom() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(POOL).prop_map(str::to_owned),
        Just("all".to_owned()),
        proptest::sample::select(&["@eu", "@us", "@canary", "@none"][..]).prop_map(str::to_owned),
        proptest::sample::select(&["web*", "node?", "node*", "*1", "d?", "*", "?eb*", "x*"][..])
            .prop_map(str::to_owned),
        (proptest::sample::select(&["web", "node", "node0", "db-"][..]), 0u8..12, 0u8..4, any::<bool>()).prop_map(
            |(prefix, lo, len, pad)| if pad {
                format!("{prefix}[{lo:02}-{:02}]", lo + len)
            } else {
                format!("{prefix}[{lo}-{},{}]", lo + len, lo + 2 * len)
            }
        ),
    ]
}

fn expression() -> impl Strategy<Value = String> {
    (atom(), proptest::collection::vec((proptest::sample::select(&[",", "!", "&"][..]), atom()), 0..4))
        .prop_map(|(first, rest)| rest.into_iter().fold(first, |expr, (op, item)| format!("{expr}{op}{item}")))
}

fn subset(small: &[&str], big: &[&str]) -> bool {
    small.iter().all(|n| big.contains(n))
}

proptest! {
    #[test]
    fn parse_never_panics(text in any::<String>()) {
        if let Ok(set) = parse(&text) {
            let _ = set.resolve(&members(&cluster()));
        }
    }

    #[test]
    fn parse_never_panics_on_syntax_soup(text in "[a-z0-9,!&*?@\\[\\] é-]{0,24}", list in node_list()) {
        if let Ok(set) = parse(&text) {
            let _ = set.resolve(&members(&list));
        }
    }

    #[test]
    fn self_difference_is_empty(list in node_list(), a in atom()) {
        let expr = format!("{a}!{a}");
        prop_assert!(select(&expr, &list).is_err(), "{}", expr);
    }

    #[test]
    fn union_is_a_superset(list in node_list(), a in expression(), b in atom()) {
        if let Ok(left) = select(&a, &list) {
            match select(&format!("{a},{b}"), &list) {
                Ok(both) => prop_assert!(subset(&left, &both)),
                Err(e) => prop_assert_eq!(e, format!("unknown node '{b}' in '{a},{b}'")),
            }
        }
    }

    #[test]
    fn intersection_is_a_subset(list in node_list(), a in expression(), b in atom()) {
        if let Ok(both) = select(&format!("{a}&{b}"), &list) {
            let left = select(&a, &list);
            prop_assert!(left.is_ok());
            prop_assert!(subset(&both, &left.unwrap()));
        }
    }

    #[test]
    fn all_selects_everything(list in node_list()) {
        let names: Vec<&str> = list.iter().map(|(n, _)| n.as_str()).collect();
        match select("all", &list) {
            Ok(all) => prop_assert_eq!(all, names),
            Err(_) => prop_assert!(list.is_empty()),
        }
    }

    #[test]
    fn results_follow_member_order_once(list in node_list(), expr in expression()) {
        if let Ok(found) = select(&expr, &list) {
            let at: Vec<usize> = found.iter().map(|f| list.iter().position(|(n, _)| n == f).unwrap()).collect();
            prop_assert!(at.windows(2).all(|w| w[0] < w[1]), "{:?}", found);
        }
    }
}
