//! Node lists for people: natural ordering (`node2` before `node10`) and ClusterShell-style
//! folding of numbered names (`web1,web2,web3,db` → `db,web[1-3]`).
//!
//! Names sharing a prefix (and a zero padding) fold into one bracket, `web[1-3,5]`; a name
//! alone in its group stays as is. The result is also a valid `--node` expression (see
//! `clusterd_protocol::nodeset`). Zero padding is kept (`node[01-03]`).

use std::cmp::Ordering;

/// Compares names piecewise: runs of digits numerically, everything else as text.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut left, mut right) = (a, b);
    loop {
        match (left.is_empty(), right.is_empty()) {
            (true, true) => return a.cmp(b),
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            (false, false) => {}
        }
        let (l, l_rest) = split_chunk(left);
        let (r, r_rest) = split_chunk(right);
        let order = match (is_digits(l), is_digits(r)) {
            (true, true) => {
                let (l_trim, r_trim) = (l.trim_start_matches('0'), r.trim_start_matches('0'));
                l_trim.len().cmp(&r_trim.len()).then_with(|| l_trim.cmp(r_trim))
            }
            _ => l.cmp(r),
        };
        if order != Ordering::Equal {
            return order;
        }
        (left, right) = (l_rest, r_rest);
    }
}

/// Sorts names naturally and removes duplicates.
pub fn sort_names(names: &mut Vec<String>) {
    names.sort_by(|a, b| natural_cmp(a, b));
    names.dedup();
}

/// The names folded into ranges, comma-separated, in natural order.
pub fn fold(names: &[String]) -> String {
    let mut names = names.to_vec();
    sort_names(&mut names);
    let parsed: Vec<Numbered<'_>> = names.iter().map(|name| Numbered::parse(name)).collect();
    // A number without a leading zero joins a padded group of its own width: `node09,node10`.
    let padded = |prefix: &str, width: usize| parsed.iter().any(|n| n.prefix == prefix && n.padded == Some(width));
    let mut groups: Vec<Group<'_>> = Vec::new();
    let mut plain: Vec<(&str, String)> = Vec::new();
    for numbered in &parsed {
        let Some(number) = numbered.number else {
            plain.push((numbered.name, numbered.name.to_string()));
            continue;
        };
        let width = numbered.padded.or(Some(numbered.digits.len()).filter(|w| padded(numbered.prefix, *w)));
        match groups.iter_mut().find(|(prefix, w, _)| *prefix == numbered.prefix && *w == width) {
            Some((_, _, members)) => members.push((number, numbered.name)),
            None => groups.push((numbered.prefix, width, vec![(number, numbered.name)])),
        }
    }
    for (prefix, width, mut members) in groups {
        members.sort_unstable();
        if let [(_, name)] = members[..] {
            plain.push((name, name.to_string()));
            continue;
        }
        let pad = width.unwrap_or(0);
        let mut elements = Vec::new();
        let mut start = 0;
        while start < members.len() {
            let mut end = start;
            while end + 1 < members.len() && members[end + 1].0 == members[end].0 + 1 {
                end += 1;
            }
            elements.push(if start == end {
                format!("{:0pad$}", members[start].0)
            } else {
                format!("{:0pad$}-{:0pad$}", members[start].0, members[end].0)
            });
            start = end + 1;
        }
        plain.push((members[0].1, format!("{prefix}[{}]", elements.join(","))));
    }
    plain.sort_by(|a, b| natural_cmp(a.0, b.0));
    plain.into_iter().map(|(_, text)| text).collect::<Vec<_>>().join(",")
}

/// Names folded together: prefix, zero-padded width, and (number, name) members.
type Group<'a> = (&'a str, Option<usize>, Vec<(u64, &'a str)>);

/// A name split into a prefix and its trailing number.
struct Numbered<'a> {
    name: &'a str,
    prefix: &'a str,
    digits: &'a str,
    /// `None` for a name without trailing digits (or too many of them).
    number: Option<u64>,
    /// The width of a zero-padded number (`07` → 2).
    padded: Option<usize>,
}

impl<'a> Numbered<'a> {
    fn parse(name: &'a str) -> Self {
        let prefix = name.trim_end_matches(|c: char| c.is_ascii_digit());
        let digits = &name[prefix.len()..];
        let number = digits.parse().ok();
        let padded = (digits.len() > 1 && digits.starts_with('0')).then_some(digits.len());
        Numbered { name, prefix, digits, number, padded }
    }
}

/// The leading run of digits or of non-digits, and the rest.
fn split_chunk(text: &str) -> (&str, &str) {
    let digits = text.starts_with(|c: char| c.is_ascii_digit());
    let end = text.find(|c: char| c.is_ascii_digit() != digits).unwrap_or(text.len());
    text.split_at(end)
}

/// True for a non-empty run of ASCII digits.
fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<String> {
        text.split(',').map(String::from).collect()
    }

    #[test]
    fn natural_order_compares_numbers_as_numbers() {
        let mut list = names("node10,node2,first,node1,Node3,node02,second");
        sort_names(&mut list);
        assert_eq!(list.join(","), "Node3,first,node1,node02,node2,node10,second");
    }

    #[test]
    fn folds_consecutive_numbers() {
        assert_eq!(fold(&names("third,first")), "first,third");
        assert_eq!(fold(&names("web3,web1,web2,db")), "db,web[1-3]");
        assert_eq!(fold(&names("web1,web2,web3,web5,web7,web8")), "web[1-3,5,7-8]");
        assert_eq!(fold(&names("web1,web3,db2")), "db2,web[1,3]");
        assert_eq!(fold(&names("node01,node02,node03")), "node[01-03]");
        assert_eq!(fold(&names("node08,node09,node10")), "node[08-10]");
        assert_eq!(fold(&names("node9,node10")), "node[9-10]");
        assert_eq!(fold(&names("a1,b1")), "a1,b1");
        assert_eq!(fold(&names("rack1-n1,rack1-n2,rack2-n1")), "rack1-n[1-2],rack2-n1");
        assert_eq!(fold(&names("x,x")), "x");
        assert_eq!(fold(&[]), "");
        assert_eq!(fold(&names("n99999999999999999999999,n1")), "n1,n99999999999999999999999");
    }
}
