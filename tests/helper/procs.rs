//! Spawning daemons so that nothing outlives a test.
//!
//! Every daemon is started in its own process group, with `PR_SET_PDEATHSIG = SIGTERM` so that
//! it is told to stop even if the test process is killed. circusd's watchers call `setsid()`, so
//! they are *not* in circusd's group: [`sweep`] finds them through `/proc`, both as descendants
//! of circusd and by a tag in their environment (which survives circusd's death).

use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Name of the environment variable carrying a daemon's tag down to its processes.
pub const TAG_VAR: &str = "CLUSTER_E2E_TAG";

/// A unique tag for a daemon: `<test pid>-<name>-<temp dir name>`. It starts with the pid of
/// the test process so that `scripts/check-leaks.sh` can tell leftovers (whose test process is
/// gone) from the processes of a test run still going on.
pub fn tag(name: &str, dir: &std::path::Path) -> String {
    let dir = dir.file_name().and_then(|n| n.to_str()).unwrap_or("x");
    format!("{}-{name}-{dir}", std::process::id())
}

/// Spawns `command` in a new process group, dying with the test process.
///
/// # Panics
/// When the program cannot be started.
pub fn spawn(command: &mut Command) -> Child {
    command.process_group(0);
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
    command.spawn().unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"))
}

/// Sends `signal` to one process (errors, such as "no such process", are ignored).
pub fn signal(pid: u32, signal: i32) {
    // SAFETY: kill(2) has no memory effects.
    unsafe {
        libc::kill(pid as libc::pid_t, signal);
    }
}

/// Freezes process `pid` (SIGSTOP): it keeps its connections but answers nothing. The guard
/// resumes it (SIGCONT) when dropped, even if an assertion fails, so that it can be stopped.
#[must_use = "the process is resumed when the guard is dropped"]
pub fn freeze(pid: u32) -> Frozen {
    signal(pid, libc::SIGSTOP);
    Frozen(pid)
}

/// A process frozen by [`freeze`]; resumed on drop.
pub struct Frozen(u32);

impl Drop for Frozen {
    fn drop(&mut self) {
        signal(self.0, libc::SIGCONT);
    }
}

/// Sends `signal` to a whole process group.
pub fn signal_group(pgid: u32, signal: i32) {
    // SAFETY: killpg(2) has no memory effects.
    unsafe {
        libc::killpg(pgid as libc::pid_t, signal);
    }
}

/// Waits up to `grace` for `child` to exit; true when it did (and was reaped).
pub fn wait_exit(child: &mut Child, grace: Duration) -> bool {
    let deadline = Instant::now() + grace;
    loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return true,
            Ok(None) if Instant::now() >= deadline => return false,
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// Stops a daemon: SIGTERM to its group, then SIGKILL after `grace`. Always reaps it.
pub fn terminate(child: &mut Child, grace: Duration) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    signal_group(child.id(), libc::SIGTERM);
    if !wait_exit(child, grace) {
        signal_group(child.id(), libc::SIGKILL);
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Every live process (pid, parent pid).
fn processes() -> Vec<(u32, u32)> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|entry| {
        let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
        let fields = stat_fields(pid)?;
        if fields.first()? == "Z" {
            return None;
        }
        Some((pid, fields.get(1)?.parse().ok()?))
    })
    .collect()
}

/// The fields of `/proc/PID/stat` after the command name, from `state` on (`ppid` is index 1,
/// `utime` 11, `stime` 12); `None` once the process is gone.
pub fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces or parentheses: fields start after the last ')'.
    Some(stat[stat.rfind(')')? + 2..].split_whitespace().map(str::to_string).collect())
}

/// User plus system CPU time of `pid` so far; `None` once it is gone.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let fields = stat_fields(pid)?;
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on every Linux ABI (sysconf(_SC_CLK_TCK)).
    Some(Duration::from_millis(ticks * 10))
}

/// Descendants of `root` (not `root` itself).
pub fn descendants(root: u32) -> Vec<u32> {
    let all = processes();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(all.iter().filter(|(_, ppid)| *ppid == parent).map(|(pid, _)| *pid));
        i += 1;
    }
    found.remove(0);
    found
}

/// Processes whose environment has `CLUSTER_E2E_TAG=<tag>`.
pub fn tagged(tag: &str) -> Vec<u32> {
    let needle = format!("{TAG_VAR}={tag}");
    processes()
        .into_iter()
        .filter(|(pid, _)| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .map(|env| env.split(|b| *b == 0).any(|var| var == needle.as_bytes()))
                .unwrap_or(false)
        })
        .map(|(pid, _)| pid)
        .collect()
}

/// SIGKILLs `pids` and the processes tagged `tag`, skipping the test process itself.
pub fn sweep(pids: &[u32], tag: &str) {
    let me = std::process::id();
    for pid in pids.iter().copied().chain(tagged(tag)) {
        if pid != me {
            signal(pid, libc::SIGKILL);
        }
    }
}

/// One memory figure of a process in KiB, such as `VmRSS` (resident) or `RssAnon` (its
/// anonymous part: heap and stacks, not the pages of the binary), from `/proc/PID/status`;
/// `None` once the process is gone.
pub fn memory_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.strip_prefix(field).is_some_and(|rest| rest.starts_with(':')))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// How many descriptors a process has open (entries of `/proc/PID/fd`); `None` once it is gone.
pub fn open_fds(pid: u32) -> Option<usize> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}

/// Caps a running process's address space (RLIMIT_AS, soft and hard) at its current size plus
/// `headroom` bytes: an allocation past it fails, so a daemon that grows without bound aborts
/// ("memory allocation failed") instead of taking the machine's memory. Resource tests assert
/// that the daemon is still there afterwards.
///
/// # Panics
/// When the process is gone or the limit cannot be set.
pub fn cap_address_space(pid: u32, headroom: u64) {
    let size = memory_kib(pid, "VmSize").expect("process alive") * 1024;
    let limit = libc::rlimit { rlim_cur: size + headroom, rlim_max: size + headroom };
    // SAFETY: prlimit(2) reads `limit` and writes nothing (no old-limit pointer).
    let rc = unsafe { libc::prlimit(pid as libc::pid_t, libc::RLIMIT_AS, &limit, std::ptr::null_mut()) };
    assert_eq!(rc, 0, "prlimit RLIMIT_AS on {pid}: {}", std::io::Error::last_os_error());
}

/// Runs `command` under an open-files limit of `limit` (`RLIMIT_NOFILE`, soft and hard).
pub fn limit_open_files(command: &mut Command, limit: u64) {
    let rlim = libc::rlimit { rlim_cur: limit, rlim_max: limit };
    // SAFETY: setrlimit is async-signal-safe and touches only the child between fork and exec.
    unsafe {
        command.pre_exec(move || {
            if libc::setrlimit(libc::RLIMIT_NOFILE, &rlim) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
}

/// A command running `program`, under an open-files limit when given, and with `resolv_conf`
/// bind-mounted over /etc/resolv.conf in a private mount namespace (`unshare -m`) when given.
pub fn command_with(program: &std::path::Path, resolv_conf: Option<&std::path::Path>, limit: Option<u64>) -> Command {
    let mut command = match resolv_conf {
        None => Command::new(program),
        Some(resolv_conf) => {
            let mut command = Command::new("unshare");
            command
                .args(["-m", "--propagation", "private", "sh", "-c"])
                .arg("mount --bind \"$0\" /etc/resolv.conf && exec \"$@\"")
                .arg(resolv_conf)
                .arg(program);
            command
        }
    };
    if let Some(limit) = limit {
        limit_open_files(&mut command, limit);
    }
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_and_cpu_time_of_this_process() {
        let fields = stat_fields(std::process::id()).unwrap();
        assert_eq!(fields[1], std::os::unix::process::parent_id().to_string());
        assert!(cpu_time(std::process::id()).is_some());
        assert!(stat_fields(u32::MAX).is_none() && cpu_time(u32::MAX).is_none());
    }
}
