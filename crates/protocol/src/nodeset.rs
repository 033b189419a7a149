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
//! and `node25`. `all` is always the keyword, never a node name.
//!
//! Expressions come from any client, the read-only endpoint's too, so their cost is bounded:
//! a range is never expanded (each known name is matched against it instead, so `n[1-99999]`
//! costs as much as `n1`), and an expression is refused (errno 3 naming the limit) beyond
//! [`MAX_EXPRESSION_LEN`] bytes, [`MAX_ITEMS`] items, [`MAX_ITEM_LEN`] characters in one item,
//! zero padding wider than a node name ([`MAX_PAD_WIDTH`]), a range standing for more than
//! [`MAX_RANGE_NAMES`] names, or more than [`MAX_WORK`] matching steps over the known nodes.

mod glob;
#[cfg(test)]
mod limits_tests;
mod range;
#[cfg(test)]
mod tests;

#[cfg(test)]
use glob::glob_match;
use glob::glob_match_counted;

use std::collections::HashSet;

use crate::names::{list_names, quoted, thousands, MAX_NODE_NAME_LEN};

/// The most names one range item (`node[1-20]`) may stand for.
pub const MAX_RANGE_NAMES: usize = 100_000;
/// The longest expression, in bytes.
pub const MAX_EXPRESSION_LEN: usize = 16_384;
/// The most items (joined by `,`, `!`, `&`) in one expression.
pub const MAX_ITEMS: usize = 256;
/// The longest item, in characters (node names are at most 63).
pub const MAX_ITEM_LEN: usize = 256;
/// The widest zero padding of a range (`[001-100]` has 3): wider can never match a node name.
pub const MAX_PAD_WIDTH: usize = MAX_NODE_NAME_LEN;
/// The most matching steps (a name compared, a glob or range step) one expression may take
/// over the known nodes: a request's node set costs at most some milliseconds.
pub const MAX_WORK: u64 = 5_000_000;

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
/// (`[5-1]`), or one of the limits above; the message quotes the expression (its start, when
/// long) and gives the position (counted in characters from 1) of the faulty part.
pub fn parse(expr: &str) -> Result<NodeSet, String> {
    let text = expr.trim();
    if text.is_empty() {
        return Err("empty node set expression".into());
    }
    if text.len() > MAX_EXPRESSION_LEN {
        return Err(format!(
            "node set {} is {} bytes long (limit {MAX_EXPRESSION_LEN})",
            quoted(text),
            thousands(text.len())
        ));
    }
    let fail = |detail: String| format!("bad node set {}: {detail}", quoted(text));
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
        if items.len() == MAX_ITEMS {
            return Err(fail(format!("more than {MAX_ITEMS} items (limit {MAX_ITEMS})")));
        }
        items.push((op, parse_item(text, start, i).map_err(fail)?));
        (op, start) = (next, i + c.len_utf8());
    }
    if items.len() == MAX_ITEMS {
        return Err(fail(format!("more than {MAX_ITEMS} items (limit {MAX_ITEMS})")));
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
    ///
    /// An expression that would take more than [`MAX_WORK`] matching steps over `members` is
    /// refused, naming the limit.
    pub fn resolve<'a>(&self, members: &[Member<'a>]) -> Result<Vec<&'a str>, String> {
        let mut selected = vec![false; members.len()];
        let mut budget = Budget { left: MAX_WORK };
        for (op, item) in &self.items {
            if let Item::Name(name) = item {
                budget.spend(members.len() as u64);
                if *op != Op::Difference && !members.iter().any(|m| m.name == name) {
                    return Err(format!("unknown node {} in {}", quoted(name), quoted(&self.text)));
                }
            }
            let hits = item.hits(members, &mut budget).ok_or_else(|| {
                format!(
                    "node set {} needs more than {} matching steps over {} nodes (limit per request): \
                     use fewer or simpler items",
                    quoted(&self.text),
                    thousands(MAX_WORK as usize),
                    thousands(members.len())
                )
            })?;
            for (sel, hit) in selected.iter_mut().zip(hits) {
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
            let known = if known.is_empty() { "none".to_owned() } else { list_names(&known) };
            return Err(format!("node set {} matches no node (nodes: {known})", quoted(&self.text)));
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

/// What is left of [`MAX_WORK`] for one expression.
struct Budget {
    left: u64,
}

impl Budget {
    fn spend(&mut self, steps: u64) {
        self.left = self.left.saturating_sub(steps);
    }

    fn exhausted(&self) -> bool {
        self.left == 0
    }
}

impl Item {
    /// For each of `members`, whether this item selects it; `None` when the budget ran out.
    fn hits(&self, members: &[Member<'_>], budget: &mut Budget) -> Option<Vec<bool>> {
        let mut hits = Vec::with_capacity(members.len());
        for member in members {
            budget.spend(1);
            if budget.exhausted() {
                return None;
            }
            hits.push(match self {
                Item::All => true,
                Item::Name(name) => member.name == name,
                Item::Tag(tag) => {
                    budget.spend(member.tags.len() as u64);
                    member.tags.iter().any(|t| t == tag)
                }
                Item::Glob(pattern) => glob_match_counted(pattern, member.name, budget),
                Item::Range(range) => range.matches(member.name, budget),
            });
        }
        Some(hits)
    }
}

/// Parses the item `text[start..end]` (byte offsets; positions in messages count characters).
fn parse_item(text: &str, start: usize, end: usize) -> Result<Item, String> {
    let raw = &text[start..end];
    let item = raw.trim();
    if item.is_empty() {
        return Err(format!("empty item at position {}", position(text, start)));
    }
    let length = item.chars().count();
    if length > MAX_ITEM_LEN {
        return Err(format!(
            "the item at position {} is {length} characters long (limit {MAX_ITEM_LEN})",
            position(text, start + (raw.len() - raw.trim_start().len()))
        ));
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
