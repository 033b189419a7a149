//! `clusterctl`: see the library crate.

/// Runs clusterctl on the process arguments and exits with its status.
fn main() {
    std::process::exit(clusterctl::run(std::env::args_os()));
}
