//! Node names and node-qualified watcher names (`first:dummy`, `first.dummy`).

/// Checks a node name: letters, digits, `-` and `_` only, so that it can stand in stats topics
/// (no `.`), in qualified names (no `:`) and in node-set expressions.
///
/// # Errors
/// Why the name is refused.
pub fn validate_node_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a node name cannot be empty".into());
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_')) {
        return Err(format!("node name '{name}' contains '{bad}': use letters, digits, '-' and '_' only"));
    }
    Ok(())
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
    fn qualified_names() {
        let known = |n: &str| n == "first";
        assert_eq!(split_qualified("first:dummy", known), Some(("first", "dummy")));
        assert_eq!(split_qualified("third:x", known), Some(("third", "x")));
        assert_eq!(split_qualified("first.dummy", known), Some(("first", "dummy")));
        assert_eq!(split_qualified("my.app", known), None);
        assert_eq!(split_qualified("dummy", known), None);
    }
}
