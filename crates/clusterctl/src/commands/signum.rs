//! circus's `util.to_signum`: a signal as a number, a name (`HUP`, `SIGHUP`, `sighup`) or a name
//! with an offset (`SIGRTMIN+1`), resolved with Linux numbering as circusctl does on Linux.

/// Linux signal names (without `SIG`) and numbers, as Python's `signal` module defines them.
const SIGNALS: &[(&str, i64)] = &[
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("IOT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("STKFLT", 16),
    ("CHLD", 17),
    ("CLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("IO", 29),
    ("POLL", 29),
    ("PWR", 30),
    ("SYS", 31),
    ("RTMIN", 34),
    ("RTMAX", 64),
];

/// Resolves `text` to a signal number.
///
/// # Errors
/// `signal invalid: <text>`, circus's message, for anything else.
pub fn to_signum(text: &str) -> Result<i64, String> {
    if let Ok(number) = text.trim().parse::<i64>() {
        return Ok(number);
    }
    let invalid = || format!("signal invalid: {text}");
    // `re.match(r'(\w+)(\+(\d+))?', text)`: a word at the start, then an optional `+offset`.
    let word_len = text.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(text.len());
    if word_len == 0 {
        return Err(invalid());
    }
    let (word, rest) = text.split_at(word_len);
    let offset = match rest.strip_prefix('+') {
        Some(digits) => {
            let end = digits.find(|c: char| !c.is_ascii_digit()).unwrap_or(digits.len());
            if end == 0 {
                0
            } else {
                digits[..end].parse::<i64>().map_err(|_| invalid())?
            }
        }
        None => 0,
    };
    let upper = word.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    SIGNALS.iter().find(|(known, _)| *known == name).map(|(_, number)| number + offset).ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_resolve_like_circus() {
        assert_eq!(to_signum("9"), Ok(9));
        assert_eq!(to_signum("HUP"), Ok(1));
        assert_eq!(to_signum("sigterm"), Ok(15));
        assert_eq!(to_signum("SIGRTMIN+2"), Ok(36));
        assert_eq!(to_signum("INT"), Ok(2));
        assert_eq!(to_signum("BOGUS"), Err("signal invalid: BOGUS".into()));
        assert!(to_signum("").is_err());
        assert_eq!(to_signum("+1"), Ok(1));
        assert!(to_signum("+x").is_err());
    }
}
