//! Where the workspace, its built binaries and the Python venv are.

use std::path::{Path, PathBuf};

/// The workspace root (this package lives in `<root>/tests`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// The Python venv with Circus: `$CIRCUS_VENV`, else `<workspace>/.venv`.
pub fn venv() -> PathBuf {
    std::env::var_os("CIRCUS_VENV")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv"))
}

/// A program of the venv (`circusd`, `circusctl`, `python`).
///
/// # Panics
/// When it does not exist, telling how to create the venv.
pub fn venv_bin(name: &str) -> PathBuf {
    let path = venv().join("bin").join(name);
    assert!(
        path.exists(),
        "{} not found: create the venv with `make venv` (or set CIRCUS_VENV to a venv with circus==0.19.0)",
        path.display()
    );
    path
}

/// The directory of the workspace's binaries built in the same profile as this test binary:
/// the test runs as `target/<profile>/deps/e2e-<hash>`, so that is `target/<profile>`.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe.parent().expect("test binary has a directory");
    let dir = if deps.ends_with("deps") { deps.parent().expect("deps has a parent") } else { deps };
    dir.to_path_buf()
}

/// A binary of the workspace (`clusterd`, `clusterctl`).
///
/// # Panics
/// When it has not been built.
pub fn workspace_bin(name: &str) -> PathBuf {
    let path = target_dir().join(name);
    assert!(path.exists(), "{} not found: run cargo build --workspace --bins first (or `make test`)", path.display());
    path
}
