//! Node-set expressions (ClusterShell style), accepted wherever a node is named.
//!
//! ```text
//! expr  := item (op item)*           operators apply left to right, all with equal precedence
//! op    := ','  union  |  '!'  difference  |  '&'  intersection
//! item  := 'all'                     every node
//!        | '@' tag                   the nodes carrying that tag
//!        | glob                      a name with '*' (any run) and '?' (any one character)
//!        | range                     prefix[spec]suffix, several bracket groups allowed
//!        | name                      one node, which must exist (except right after '!')
//! spec  := element (',' element)*    element := N | N-M     ("01-10" keeps the zero padding)
//! name, tag := [A-Za-z0-9_-]+        whitespace around items is ignored
//! ```
//!
//! So `a,b!c` is `(a ∪ b) \ c`, `all!second` every node but `second`, `@eu&web*` the `eu` nodes
//! whose names start with `web`, `node[01-10,25]` the existing nodes among `node01`..`node10`
//! and `node25`. A range may expand to at most [`MAX_RANGE_NAMES`] names. `all` is always the
//! keyword, never a node name.

mod range;
#[cfg(test)]
mod tests;

use std::collections::HashSet;

/// The most names one range item (`node[1-20]`) may expand to.
pub const MAX_RANGE_NAMES: usize = 100_000;

/// A parsed node-set expression; [`NodeSet::resolve`] applies it to the known nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSet {
    text: String,
    /// The items with the operator that joins each to what precedes it (`Union` for the first).
    items: Vec<(Op, Item)>,
}

/// One known node: its name and tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member<'a> {
    /// The node name.
    pub name: &'a str,
    /// The tags the node carries (matched by `@tag`).
    pub tags: &'a [String],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Union,
    Difference,
    Intersection,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    All,
    Name(String),
    Tag(String),
    Glob(Vec<char>),
    Range(range::Range),
}

/// Parses a node-set expression (see the module documentation for the grammar).
///
/// # Errors
/// An empty expression or item, a bad character, unbalanced or empty brackets, a bad range
/// (`[5-1]`) or one expanding to more than [`MAX_RANGE_NAMES`] names; the message quotes the
/// expression and gives the position (counted in characters from 1) of the faulty part.
pub fn parse(expr: &str) -> Result<NodeSet, String> {
    let text = expr.trim();
    if text.is_empty() {
        return Err("empty node set expression".into());
    }
    let fail = |detail: String| format!("bad node set '{text}': {detail}");
    let mut items = Vec::new();
    let (mut op, mut start, mut in_brackets) = (Op::Union, 0, false);
    for (i, c) in text.char_indices() {
        let next = match c {
            '[' => {
                in_brackets = true;
                continue;
            }
            ']' => {
                in_brackets = false;
                continue;
            }
            ',' if !in_brackets => Op::Union,
            '!' if !in_brackets => Op::Difference,
            '&' if !in_brackets => Op::Intersection,
            _ => continue,
        };
        items.push((op, parse_item(text, start, i).map_err(fail)?));
        (op, start) = (next, i + c.len_utf8());
    }
    items.push((op, parse_item(text, start, text.len()).map_err(fail)?));
    Ok(NodeSet { text: text.to_owned(), items })
}

/// True when `text` uses any node-set syntax beyond a plain name (`,` `!` `&` `*` `?` `[` `@`,
/// or is `all`).
pub fn is_expression(text: &str) -> bool {
    text.trim() == "all" || text.contains([',', '!', '&', '*', '?', '[', '@'])
}

impl NodeSet {
    /// The nodes of `members` the expression selects, in `members` order, without duplicates.
    ///
    /// # Errors
    /// When nothing matches: "node set 'EXPR' matches no node (nodes: a, b, c)"; when a plain
    /// name that is not a member stands anywhere but right after `!` (so typos are caught):
    /// "unknown node 'x' in 'EXPR'".
    pub fn resolve<'a>(&self, members: &[Member<'a>]) -> Result<Vec<&'a str>, String> {
        let mut selected = vec![false; members.len()];
        for (op, item) in &self.items {
            if let Item::Name(name) = item {
                if *op != Op::Difference && !members.iter().any(|m| m.name == name) {
                    return Err(format!("unknown node '{name}' in '{}'", self.text));
                }
            }
            for (sel, hit) in selected.iter_mut().zip(item.hits(members)) {
                *sel = match op {
                    Op::Union => *sel || hit,
                    Op::Difference => *sel && !hit,
                    Op::Intersection => *sel && hit,
                };
            }
        }
        let mut seen = HashSet::new();
        let nodes: Vec<&'a str> =
            members.iter().zip(selected).filter(|(m, sel)| *sel && seen.insert(m.name)).map(|(m, _)| m.name).collect();
        if nodes.is_empty() {
            let known: Vec<&str> = members.iter().map(|m| m.name).collect();
            let known = if known.is_empty() { "none".to_owned() } else { known.join(", ") };
            return Err(format!("node set '{}' matches no node (nodes: {known})", self.text));
        }
        Ok(nodes)
    }

    /// `Some(name)` when the expression is one plain node name (no operator, glob, range, tag
    /// or `all`).
    pub fn single_name(&self) -> Option<&str> {
        match self.items.as_slice() {
            [(_, Item::Name(name))] => Some(name),
            _ => None,
        }
    }

    /// The expression as written (trimmed).
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl Item {
    /// For each of `members`, whether this item selects it.
    fn hits(&self, members: &[Member<'_>]) -> Vec<bool> {
        let test = |select: &dyn Fn(&Member<'_>) -> bool| members.iter().map(select).collect();
        match self {
            Item::All => vec![true; members.len()],
            Item::Name(name) => test(&|m| m.name == name),
            Item::Tag(tag) => test(&|m| m.tags.iter().any(|t| t == tag)),
            Item::Glob(pattern) => test(&|m| glob_match(pattern, m.name)),
            Item::Range(range) => {
                let names = range.expand();
                test(&|m| names.contains(m.name))
            }
        }
    }
}

/// Parses the item `text[start..end]` (byte offsets; positions in messages count characters).
fn parse_item(text: &str, start: usize, end: usize) -> Result<Item, String> {
    let raw = &text[start..end];
    let item = raw.trim();
    if item.is_empty() {
        return Err(format!("empty item at position {}", position(text, start)));
    }
    let base = start + (raw.len() - raw.trim_start().len());
    if item == "all" {
        Ok(Item::All)
    } else if let Some(tag) = item.strip_prefix('@') {
        if tag.is_empty() {
            return Err(format!("'@' at position {} needs a tag name", position(text, base)));
        }
        check_chars(text, base + 1, tag, "a tag", false)?;
        Ok(Item::Tag(tag.to_owned()))
    } else if item.contains(['[', ']']) {
        range::parse(text, base, item).map(Item::Range)
    } else {
        check_chars(text, base, item, "a node name", true)?;
        if item.contains(['*', '?']) {
            Ok(Item::Glob(item.chars().collect()))
        } else {
            Ok(Item::Name(item.to_owned()))
        }
    }
}

/// Refuses any character of `part` (found at byte `base` of `text`) outside `[A-Za-z0-9_-]`,
/// plus `*` and `?` when `glob` is set.
fn check_chars(text: &str, base: usize, part: &str, what: &str, glob: bool) -> Result<(), String> {
    match part.char_indices().find(|&(_, c)| !(is_name_char(c) || (glob && (c == '*' || c == '?')))) {
        Some((i, c)) => Err(format!(
            "'{c}' at position {} is not allowed in {what} (use letters, digits, '-' and '_')",
            position(text, base + i)
        )),
        None => Ok(()),
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// The 1-based character position of byte offset `byte` in `text`.
fn position(text: &str, byte: usize) -> usize {
    text.get(..byte).map_or(byte, |head| head.chars().count()) + 1
}

/// Matches `name` against a pattern where `*` is any run of characters and `?` any one
/// character, in linear-ish time (backtracking to the last `*` only).
fn glob_match(pattern: &[char], name: &str) -> bool {
    let name: Vec<char> = name.chars().collect();
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, n));
                p += 1;
            }
            Some(&c) if c == '?' || c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    star = Some((sp, sn + 1));
                    (p, n) = (sp + 1, sn + 1);
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&c| c == '*')
}
