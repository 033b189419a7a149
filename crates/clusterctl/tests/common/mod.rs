//! Shared by clusterctl's integration tests.

/// The end-to-end tests' port picker: ports below the ephemeral range, never handed out twice,
/// locked across test processes (`bind(127.0.0.1:0)` races reconnecting sockets for them).
#[allow(dead_code)]
#[path = "../../../../tests/helper/ports.rs"]
pub mod ports;

/// The scripted master both test files talk to.
#[allow(dead_code)]
pub mod scripted;

/// Runs clusterctl in-process; returns (status, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let argv = std::iter::once("clusterctl").chain(args.iter().copied());
    let code = clusterctl::run_with(argv, None, &mut out, &mut err);
    (code, String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
}
