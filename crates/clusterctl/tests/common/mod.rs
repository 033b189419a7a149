//! Shared by clusterctl's integration tests.

/// Runs clusterctl in-process; returns (status, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let argv = std::iter::once("clusterctl").chain(args.iter().copied());
    let code = clusterctl::run_with(argv, None, &mut out, &mut err);
    (code, String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
}
