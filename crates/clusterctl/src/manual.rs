//! `clusterctl completions bash|zsh|fish` and the man pages (`make man`, through the
//! `manpages` example), both generated from the clap definition in [`crate::cli`], so that they
//! list exactly what the parser accepts.

use std::io::{self, Write};
use std::path::Path;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::{Cli, CompletionShell};

/// Writes the completion script for `shell` on `out`.
pub fn completions(shell: CompletionShell, out: &mut dyn Write) {
    let shell = match shell {
        CompletionShell::Bash => Shell::Bash,
        CompletionShell::Zsh => Shell::Zsh,
        CompletionShell::Fish => Shell::Fish,
    };
    clap_complete::generate(shell, &mut Cli::command(), "clusterctl", out);
}

/// Writes `clusterctl.1` and one `clusterctl-<command>.1` per visible command into `dir`;
/// returns the files written.
///
/// # Errors
/// The folder or a file cannot be written.
pub fn man_pages(dir: &Path) -> io::Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut command = Cli::command();
    // Propagates the global options into every command, so that each page lists them.
    command.build();
    let mut written = vec![write_page(dir, "clusterctl", command.clone())?];
    for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        let name = format!("clusterctl-{}", sub.get_name());
        written.push(write_page(dir, &name, sub.clone())?);
    }
    Ok(written)
}

fn write_page(dir: &Path, name: &str, command: clap::Command) -> io::Result<std::path::PathBuf> {
    let mut page = Vec::new();
    clap_mangen::Man::new(command).title(name).render(&mut page)?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, page)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_know_the_commands_and_options() {
        for shell in [CompletionShell::Bash, CompletionShell::Zsh, CompletionShell::Fish] {
            let mut out = Vec::new();
            completions(shell, &mut out);
            let script = String::from_utf8(out).unwrap();
            for word in ["register_node", "reloadconfig", "listen", "pubsub-endpoint", "stats-endpoint"] {
                assert!(script.contains(word), "{shell:?} lacks {word}");
            }
            assert!(script.contains("completions"), "{shell:?}");
        }
    }

    #[test]
    fn man_pages_cover_every_command() {
        let dir = std::env::temp_dir().join(format!("clusterctl-man-{}", std::process::id()));
        let written = man_pages(&dir).unwrap();
        let main = std::fs::read_to_string(dir.join("clusterctl.1")).unwrap();
        assert!(main.starts_with(".ie \\n(.g .ds Aq") || main.contains(".TH clusterctl"), "{main}");
        assert!(main.contains("register_node") && main.contains("CLUSTERCTL_ENDPOINT"), "{main}");
        let top = std::fs::read_to_string(dir.join("clusterctl-top.1")).unwrap();
        assert!(top.contains("stats\\-endpoint") && top.contains("\\-\\-endpoint"), "{top}");
        assert!(written.len() > 30 && dir.join("clusterctl-completions.1").exists(), "{written:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
