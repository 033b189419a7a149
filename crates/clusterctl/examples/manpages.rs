//! `cargo run -p clusterctl --example manpages -- DIR`: writes clusterctl.1 and one
//! clusterctl-<command>.1 per command into DIR (what `make man` runs).

use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1) else {
        eprintln!("usage: manpages DIR");
        return ExitCode::from(2);
    };
    match clusterctl::manual::man_pages(std::path::Path::new(&dir)) {
        Ok(pages) => {
            println!("wrote {} pages into {}", pages.len(), std::path::Path::new(&dir).display());
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("manpages: {err}");
            ExitCode::FAILURE
        }
    }
}
