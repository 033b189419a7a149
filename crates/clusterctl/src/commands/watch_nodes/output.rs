//! Where a rendering goes: the `--out` file, replaced atomically, then the `--exec` command.

use std::fs;
use std::io::Write;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Replaces `path` with `text` atomically: a reader (the load balancer that `--exec` reloads)
/// sees the old file or the new one, never half of one. The text goes to a temporary file in
/// the same directory (a rename across file systems is not atomic), flushed to disk, which is
/// then renamed over `path`. An existing file's permissions are kept.
///
/// # Errors
/// What failed, naming the file.
pub fn write_atomically(path: &Path, text: &str) -> Result<(), String> {
    let temp = temp_path(path);
    let result = write_then_rename(&temp, path, text);
    if result.is_err() {
        // Nothing else would ever remove it.
        let _ = fs::remove_file(&temp);
    }
    result.map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn write_then_rename(temp: &Path, path: &Path, text: &str) -> std::io::Result<()> {
    let mut file = fs::File::create(temp)?;
    file.write_all(text.as_bytes())?;
    if let Ok(existing) = fs::metadata(path) {
        file.set_permissions(existing.permissions())?;
    }
    file.sync_all()?;
    fs::rename(temp, path)
}

/// `.<name>.<pid>.tmp` beside `path`: hidden, and never another process's.
fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// Runs `command` with `sh -c` and waits for it. It learns the file and the node names from
/// `CLUSTERCTL_WATCH_OUT` and `CLUSTERCTL_WATCH_NODES` (comma-separated). Its stdout goes to
/// our stderr, so that our stdout stays one line per rendering.
///
/// # Errors
/// It could not be started, or it failed: its exit status, for the log line.
pub fn run_command(command: &str, out: &Path, names: &[&str]) -> Result<(), String> {
    let stdout = std::io::stderr().as_fd().try_clone_to_owned().map_or_else(|_| Stdio::null(), Stdio::from);
    let status = Command::new("sh")
        .arg("-c")
        .arg(command)
        .env("CLUSTERCTL_WATCH_OUT", out)
        .env("CLUSTERCTL_WATCH_NODES", names.join(","))
        .stdin(Stdio::null())
        .stdout(stdout)
        .status()
        .map_err(|e| format!("cannot run sh -c {command:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("--exec command failed ({status}): {command}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("watch-nodes-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn writes_replace_the_file_and_keep_its_mode() {
        let dir = scratch("write");
        let out = dir.join("backends.cfg");
        write_atomically(&out, "one\n").unwrap();
        fs::set_permissions(&out, fs::Permissions::from_mode(0o640)).unwrap();
        write_atomically(&out, "two\n").unwrap();
        assert_eq!(fs::read_to_string(&out).unwrap(), "two\n");
        assert_eq!(fs::metadata(&out).unwrap().permissions().mode() & 0o777, 0o640);
        // Only the file itself is left: no temporary beside it.
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        let err = write_atomically(&dir.join("missing/x.cfg"), "x").unwrap_err();
        assert!(err.starts_with(&format!("cannot write {}", dir.join("missing/x.cfg").display())), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn commands_see_the_file_and_the_nodes() {
        let dir = scratch("exec");
        let log = dir.join("log");
        let command = format!("echo \"$CLUSTERCTL_WATCH_OUT $CLUSTERCTL_WATCH_NODES\" >> {}", log.display());
        run_command(&command, Path::new("/tmp/b.cfg"), &["a", "b"]).unwrap();
        assert_eq!(fs::read_to_string(&log).unwrap(), "/tmp/b.cfg a,b\n");
        let err = run_command("exit 7", Path::new("x"), &[]).unwrap_err();
        assert!(err.contains("exit status: 7") && err.contains("exit 7"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
