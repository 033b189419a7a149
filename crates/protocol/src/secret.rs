//! A shared secret (`register_secret` on the master, `secret` in a worker's ini): kept out of
//! `Debug` output and logs, and compared in constant time.

use std::fmt;

/// A secret text. `Debug` never shows it; [`Secret::expose`] is the one way to read it, for
/// putting it on the wire.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `text`; `None` when it is empty (an empty secret protects nothing, so it means
    /// "not set").
    pub fn new(text: &str) -> Option<Secret> {
        (!text.is_empty()).then(|| Secret(text.to_string()))
    }

    /// The secret itself, to send it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when `offered` is this secret. The time taken depends on the lengths only, not on
    /// where the first difference is, so that a client cannot guess the secret byte by byte
    /// from reply times.
    pub fn matches(&self, offered: &str) -> bool {
        let (mine, theirs) = (self.0.as_bytes(), offered.as_bytes());
        let mut diff = u8::from(mine.len() != theirs.len());
        for (i, byte) in theirs.iter().enumerate() {
            // Compare against the secret cyclically, so a wrong length costs as much as a wrong byte.
            diff |= byte ^ mine[i % mine.len()];
        }
        diff == 0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<hidden>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_only_the_same_text() {
        let secret = Secret::new("s3cret").unwrap();
        assert!(secret.matches("s3cret"));
        for wrong in ["", "s3cre", "s3cret!", "S3cret", "s3cres", "s3crets3cret"] {
            assert!(!secret.matches(wrong), "{wrong}");
        }
        assert!(Secret::new("").is_none());
    }

    #[test]
    fn debug_hides_it() {
        let secret = Secret::new("s3cret").unwrap();
        assert!(!format!("{secret:?}").contains("s3cret"));
        assert!(!format!("{:?}", Some(secret)).contains("s3cret"));
    }
}
