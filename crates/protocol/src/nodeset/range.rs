//! Range items: `prefix[spec]suffix`, e.g. `node[1-20,25]`, `node[01-10]`, `r[1-2]n[1-3]`.

use super::{is_name_char, position, Budget, MAX_PAD_WIDTH, MAX_RANGE_NAMES};

/// A checked range item. It is never expanded: each known node name is matched against it, so
/// its cost follows the cluster, not the numbers written in it (`n[1-99999]` would be 100,000
/// strings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Range(Vec<Part>);

/// One piece of a range item: literal text, or a bracket group as `(first, last, width)` spans
/// (`width` > 0 pads with zeros).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Numbers(Vec<(u64, u64, usize)>),
}

/// Parses the range item `item`, found at byte `base` of the expression `text`.
pub(super) fn parse(text: &str, base: usize, item: &str) -> Result<Range, String> {
    let mut parts: Vec<Part> = Vec::new();
    let mut i = 0;
    while let Some(c) = item[i..].chars().next() {
        match c {
            '[' => {
                let body = &item[i + 1..];
                let Some(j) = body.find(['[', ']']) else {
                    return Err(format!("unclosed '[' at position {}", position(text, base + i)));
                };
                if body[j..].starts_with('[') {
                    return Err(format!("nested '[' at position {}", position(text, base + i + 1 + j)));
                }
                parts.push(Part::Numbers(parse_spec(text, base + i, &body[..j])?));
                i += j + 2;
                continue;
            }
            ']' => return Err(format!("unbalanced ']' at position {}", position(text, base + i))),
            c if is_name_char(c) => match parts.last_mut() {
                Some(Part::Literal(literal)) => literal.push(c),
                _ => parts.push(Part::Literal(c.to_string())),
            },
            c => {
                return Err(format!(
                    "'{c}' at position {} is not allowed in a range (use letters, digits, '-', '_' and [spec])",
                    position(text, base + i)
                ))
            }
        }
        i += c.len_utf8();
    }
    let total = parts.iter().fold(1u64, |total, part| match part {
        Part::Literal(_) => total,
        Part::Numbers(spans) => total
            .saturating_mul(spans.iter().fold(0u64, |n, (lo, hi, _)| n.saturating_add((hi - lo).saturating_add(1)))),
    });
    if total > MAX_RANGE_NAMES as u64 {
        return Err(format!("range '{item}' expands to more than {MAX_RANGE_NAMES} names"));
    }
    Ok(Range(parts))
}

impl Range {
    /// True when `name` is one of the names the range stands for: its literal parts in place,
    /// and each bracket group matched by a run of digits that one of the group's elements
    /// formats to (`07` for `[01-10]`, `7` for `[1-10]`). Every step is spent from `budget`.
    pub(super) fn matches(&self, name: &str, budget: &mut Budget) -> bool {
        let name = name.as_bytes();
        // (part, position) pairs already known not to lead to a match: with adjacent bracket
        // groups (`[1-9][1-9]`) the digit runs can be split many ways.
        let mut failed = vec![false; (self.0.len() + 1) * (name.len() + 1)];
        self.match_from(0, 0, name, &mut failed, budget)
    }

    fn match_from(&self, part: usize, at: usize, name: &[u8], failed: &mut [bool], budget: &mut Budget) -> bool {
        let Some(current) = self.0.get(part) else { return at == name.len() };
        let key = part * (name.len() + 1) + at;
        budget.spend(1);
        if failed[key] || budget.exhausted() {
            return false;
        }
        let hit = match current {
            Part::Literal(literal) => {
                name[at..].starts_with(literal.as_bytes())
                    && self.match_from(part + 1, at + literal.len(), name, failed, budget)
            }
            Part::Numbers(spans) => {
                let run = name[at..].iter().take_while(|b| b.is_ascii_digit()).count();
                (1..=run).any(|len| {
                    budget.spend(spans.len() as u64);
                    let digits = &name[at..at + len];
                    spans.iter().any(|span| formats_to(*span, digits))
                        && self.match_from(part + 1, at + len, name, failed, budget)
                })
            }
        };
        if !hit {
            failed[key] = true;
        }
        hit
    }

    /// Every name the range stands for: the reference [`Range::matches`] is tested against.
    #[cfg(test)]
    pub(super) fn expand(&self) -> std::collections::HashSet<String> {
        let mut names = vec![String::new()];
        for part in &self.0 {
            names = match part {
                Part::Literal(literal) => names.into_iter().map(|name| name + literal).collect(),
                Part::Numbers(spans) => names
                    .iter()
                    .flat_map(|name| {
                        spans
                            .iter()
                            .flat_map(move |&(lo, hi, width)| (lo..=hi).map(move |n| format!("{name}{n:0width$}")))
                    })
                    .collect(),
            };
        }
        names.into_iter().collect()
    }
}

/// True when some number of `lo..=hi`, zero-padded to `width`, is written `digits`.
fn formats_to((lo, hi, width): (u64, u64, usize), digits: &[u8]) -> bool {
    // Digits without the leading zeros ("0" keeps one): the padding must account for the rest.
    let significant = digits.iter().position(|&d| d != b'0').map_or(1, |i| digits.len() - i);
    if digits.len() != significant.max(width) || significant > 20 {
        return false;
    }
    let number = std::str::from_utf8(digits).ok().and_then(|d| d.parse::<u64>().ok());
    number.is_some_and(|n| (lo..=hi).contains(&n))
}

/// Parses the inside of a bracket group opened at byte `open` of `text`: `N` or `N-M` elements
/// separated by commas.
fn parse_spec(text: &str, open: usize, spec: &str) -> Result<Vec<(u64, u64, usize)>, String> {
    if spec.is_empty() {
        return Err(format!("empty brackets '[]' at position {}", position(text, open)));
    }
    let mut spans = Vec::new();
    let mut offset = open + 1;
    for element in spec.split(',') {
        let at = position(text, offset);
        if element.is_empty() {
            return Err(format!("empty range element at position {at} in '[{spec}]'"));
        }
        let bad = |why: &str| format!("bad range '{element}' at position {at}: {why}");
        let (first, last) = element.split_once('-').unwrap_or((element, element));
        let number = |digits: &str| -> Result<u64, String> {
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad("expected N or N-M with decimal numbers"));
            }
            digits.parse().map_err(|_| bad("number too large"))
        };
        let (lo, hi) = (number(first)?, number(last)?);
        if lo > hi {
            return Err(bad(&format!("{lo} is greater than {hi}")));
        }
        let width = if first.len() > 1 && first.starts_with('0') { first.len() } else { 0 };
        if width > MAX_PAD_WIDTH {
            return Err(bad(&format!(
                "zero padding of {width} digits is wider than a node name (limit {MAX_PAD_WIDTH})"
            )));
        }
        spans.push((lo, hi, width));
        offset += element.len() + 1;
    }
    Ok(spans)
}
