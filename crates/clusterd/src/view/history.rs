//! Per-node CPU and memory history for the dashboard's sparklines.

use std::collections::VecDeque;
use std::time::Duration;

/// Time between two samples.
pub const HISTORY_STEP: Duration = Duration::from_secs(5);
/// Samples kept: 5 minutes.
pub const HISTORY_SAMPLES: usize = 60;

/// The last [`HISTORY_SAMPLES`] samples of one node, oldest first.
#[derive(Debug, Default, Clone)]
pub struct History(VecDeque<(f64, u64)>);

impl History {
    /// Adds a sample (CPU %, memory bytes), forgetting the oldest beyond 5 minutes.
    pub fn push(&mut self, cpu: f64, mem_bytes: u64) {
        self.0.push_back((cpu, mem_bytes));
        while self.0.len() > HISTORY_SAMPLES {
            self.0.pop_front();
        }
    }

    /// The samples, oldest first.
    pub fn points(&self) -> Vec<(f64, u64)> {
        self.0.iter().copied().collect()
    }
}
