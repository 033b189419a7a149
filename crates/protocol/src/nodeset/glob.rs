//! Glob items: `*` is any run of characters, `?` any one character.

use super::Budget;

/// Matches `name` against a pattern where `*` is any run of characters and `?` any one
/// character, in linear-ish time (backtracking to the last `*` only).
#[cfg(test)]
pub(super) fn glob_match(pattern: &[char], name: &str) -> bool {
    glob_match_counted(pattern, name, &mut Budget { left: u64::MAX })
}

/// Like `glob_match`, each step spent from `budget` (the match fails once it is exhausted).
pub(super) fn glob_match_counted(pattern: &[char], name: &str, budget: &mut Budget) -> bool {
    let name: Vec<char> = name.chars().collect();
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        budget.spend(1);
        if budget.exhausted() {
            return false;
        }
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
