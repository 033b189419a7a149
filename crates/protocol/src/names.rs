//! Node names and node-qualified watcher names (`first:dummy`, `first.dummy`).

/// The longest node name: a DNS label. Names stand in every stats topic, every error that lists
/// nodes and every node-set match, so an unbounded one multiplies into every reply.
pub const MAX_NODE_NAME_LEN: usize = 63;

/// How many names an error message lists before "... and N more".
pub const LISTED_NAMES: usize = 5;

/// Checks a node name: 1 to [`MAX_NODE_NAME_LEN`] letters, digits, `-` and `_`, so that it can
/// stand in stats topics (no `.`), in qualified names (no `:`) and in node-set expressions; not
/// the node-set keyword `all` (in any case), and not starting with `-` (it would read as an
/// option on a command line: `-rf`, `--help`).
///
/// # Errors
/// Why the name is refused.
pub fn validate_node_name(name: &str) -> Result<(), String> {
    validate_word(name)?;
    let shown = quoted(name);
    if name.chars().count() > MAX_NODE_NAME_LEN {
        return Err(format!(
            "node name {shown} is {} characters long (limit {MAX_NODE_NAME_LEN}, a DNS label)",
            name.chars().count()
        ));
    }
    if name.eq_ignore_ascii_case("all") {
        return Err(format!("node name {shown} is reserved: 'all' means every node in a node set"));
    }
    if name.starts_with('-') {
        return Err(format!("node name {shown} is reserved: a name cannot start with '-' (it reads as an option)"));
    }
    Ok(())
}

/// Checks that `name` is not empty and holds only letters, digits, `-` and `_` (a node name
/// without the length and reserved-word rules: job names of `clusterctl run`).
///
/// # Errors
/// Why the name is refused.
pub fn validate_word(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a node name cannot be empty".into());
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_')) {
        return Err(format!(
            "node name {} contains {}: use letters, digits, '-' and '_' only",
            quoted(name),
            shown_char(bad)
        ));
    }
    Ok(())
}

/// `text` with its control characters escaped (`\n`, `\u{1b}`), for messages and logs.
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// `'text'` for an error message: at most 64 characters of it (then `...`), control characters
/// escaped, so that no input can stretch a reply or forge a line of a log or a table.
pub fn quoted(text: &str) -> String {
    const SHOWN: usize = 64;
    let mut out = String::from("'");
    for (i, c) in text.chars().enumerate() {
        if i == SHOWN {
            out.push_str("...");
            break;
        }
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// A character for an error message: `'x'`, or escaped when it is a control character.
fn shown_char(c: char) -> String {
    if c.is_control() {
        format!("'{}'", c.escape_debug())
    } else {
        format!("'{c}'")
    }
}

/// `a, b, c, d, e ... and 4,995 more`: at most [`LISTED_NAMES`] names of a list, for an error
/// message whose length must not grow with the cluster.
pub fn list_names<S: AsRef<str>>(names: &[S]) -> String {
    let shown: Vec<&str> = names.iter().take(LISTED_NAMES).map(AsRef::as_ref).collect();
    let mut text = shown.join(", ");
    if names.len() > LISTED_NAMES {
        text.push_str(&format!(" ... and {} more", thousands(names.len() - LISTED_NAMES)));
    }
    text
}

/// `4995` as `4,995`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// Splits `node:watcher` at the first `:`. `first.dummy` (the form circus-top shows) is split at
/// the first `.` only when `is_node` says the part before it is a node, because plain watcher
/// names may contain dots.
pub fn split_qualified(name: &str, is_node: impl Fn(&str) -> bool) -> Option<(&str, &str)> {
    if let Some(split) = name.split_once(':') {
        return Some(split);
    }
    name.split_once('.').filter(|(node, _)| is_node(node))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names() {
        assert!(validate_node_name("first").is_ok());
        assert!(validate_node_name("web-01_a").is_ok());
        for bad in ["", "a.b", "a:b", "a b", "a*"] {
            assert!(validate_node_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn node_names_are_dns_labels_and_not_reserved() {
        assert!(validate_node_name(&"a".repeat(63)).is_ok());
        let long = validate_node_name(&"a".repeat(1_000_000)).unwrap_err();
        assert!(long.contains("is 1000000 characters long (limit 63, a DNS label)"), "{long}");
        assert!(long.len() < 200, "the error quotes a bounded part of the name: {long}");
        for reserved in ["all", "ALL", "All", "-rf", "--help", "-"] {
            let err = validate_node_name(reserved).unwrap_err();
            assert!(err.contains("is reserved"), "{reserved}: {err}");
        }
        for fine in ["alls", "a-ll", "x-", "_all"] {
            assert!(validate_node_name(fine).is_ok(), "{fine}");
        }
        let newline = validate_node_name("a\nb").unwrap_err();
        assert_eq!(newline, "node name 'a\\nb' contains '\\n': use letters, digits, '-' and '_' only");
    }

    #[test]
    fn lists_are_truncated() {
        assert_eq!(list_names(&["a", "b"]), "a, b");
        let many: Vec<String> = (0..5000).map(|i| format!("n{i}")).collect();
        assert_eq!(list_names(&many), "n0, n1, n2, n3, n4 ... and 4,995 more");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
        assert_eq!(quoted(&"x".repeat(100)), format!("'{}...'", "x".repeat(64)));
        assert_eq!(quoted("a\u{1b}[2Jb\r"), "'a\\u{1b}[2Jb\\r'");
    }

    #[test]
    fn qualified_names() {
        let known = |n: &str| n == "first";
        assert_eq!(split_qualified("first:dummy", known), Some(("first", "dummy")));
        assert_eq!(split_qualified("third:x", known), Some(("third", "x")));
        assert_eq!(split_qualified("first.dummy", known), Some(("first", "dummy")));
        assert_eq!(split_qualified("my.app", known), None);
        assert_eq!(split_qualified("dummy", known), None);
    }
}
