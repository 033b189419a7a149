//! Discovery of plain circusd nodes: scans of host and port ranges, and Circus's UDP discovery.

mod target;

pub use target::{parse_target, Target};
