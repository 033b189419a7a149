//! Summaries of samples: percentiles of one run, medians and spreads over runs.

use std::time::Duration;

/// Percentiles of one run's samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percentiles {
    /// Median.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
}

impl Percentiles {
    /// p50 and p99 of `samples` (nearest-rank).
    ///
    /// # Panics
    /// When `samples` is empty.
    pub fn of(samples: &[Duration]) -> Percentiles {
        assert!(!samples.is_empty(), "no samples");
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        Percentiles { p50: rank(&sorted, 0.50), p99: rank(&sorted, 0.99) }
    }
}

fn rank(sorted: &[Duration], q: f64) -> Duration {
    let index = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

/// The median of several runs' figures, with the lowest and highest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// Median over runs.
    pub median: f64,
    /// Lowest run.
    pub min: f64,
    /// Highest run.
    pub max: f64,
}

impl Spread {
    /// Median, min and max of `values`.
    ///
    /// # Panics
    /// When `values` is empty.
    pub fn of(values: &[f64]) -> Spread {
        assert!(!values.is_empty(), "no values");
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 };
        Spread { median, min: sorted[0], max: sorted[n - 1] }
    }

    /// `median (min–max)` with `digits` decimals.
    pub fn show(&self, digits: usize) -> String {
        format!("{:.digits$} ({:.digits$}–{:.digits$})", self.median, self.min, self.max)
    }
}

/// Microseconds of a duration, as a float.
pub fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Milliseconds of a duration, as a float.
pub fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_micros).collect();
        let p = Percentiles::of(&samples);
        assert_eq!((p.p50, p.p99), (Duration::from_micros(50), Duration::from_micros(99)));
        let one = Percentiles::of(&[Duration::from_micros(7)]);
        assert_eq!((one.p50, one.p99), (Duration::from_micros(7), Duration::from_micros(7)));
    }

    #[test]
    fn spreads_give_the_median_and_the_extremes() {
        let s = Spread::of(&[3.0, 1.0, 2.0, 10.0]);
        assert_eq!((s.median, s.min, s.max), (2.5, 1.0, 10.0));
        assert_eq!(s.show(1), "2.5 (1.0–10.0)");
    }
}
