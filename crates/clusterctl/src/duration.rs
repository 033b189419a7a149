//! Durations as text: timeouts as the command line gives them (`cli`'s `--timeout`, `top
//! --process-timeout`, `run`'s durations) and ages as `nodes` and `top` print them. A module of
//! its own so that none of them imports another for it.

use std::time::Duration;

/// A non-negative number of seconds, fractions allowed.
///
/// # Errors
/// Not a number, or negative, infinite or too large: the reason quotes the text.
pub(crate) fn parse_timeout(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text.trim().parse().map_err(|_| format!("'{text}' is not a number of seconds"))?;
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("'{text}' is not a valid timeout"))
}

/// A duration in seconds, short: `0.4s`, `3m12s`, `2h05m`, `3d04h` (`nodes`' LAST SEEN, `top`'s AGE).
pub(crate) fn age(seconds: f64) -> String {
    let seconds = seconds.max(0.0);
    if seconds < 60.0 {
        return format!("{seconds:.1}s");
    }
    let whole = seconds as u64;
    match whole {
        0..=3599 => format!("{}m{:02}s", whole / 60, whole % 60),
        3600..=86_399 => format!("{}h{:02}m", whole / 3600, whole % 3600 / 60),
        _ => format!("{}d{:02}h", whole / 86_400, whole % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_with_fractions_and_clear_refusals() {
        assert_eq!(parse_timeout("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_timeout(" 0 "), Ok(Duration::ZERO));
        assert_eq!(parse_timeout("soon"), Err("'soon' is not a number of seconds".to_string()));
        assert_eq!(parse_timeout("-1"), Err("'-1' is not a valid timeout".to_string()));
    }

    #[test]
    fn ages_are_short() {
        assert_eq!(age(0.44), "0.4s");
        assert_eq!(age(-3.0), "0.0s");
        assert_eq!(age(7325.0), "2h02m");
        assert_eq!(age(90_000.0), "1d01h");
    }
}
