//! What the benchmarks read from the system: a process's memory, CPU time and open files, and
//! the machine they ran on.

use std::time::Duration;

/// Resident memory of `pid` in bytes (`VmRSS`).
pub fn rss(pid: u32) -> Option<u64> {
    cluster_e2e::procs::memory_kib(pid, "VmRSS").map(|kib| kib * 1024)
}

/// User plus system CPU time of `pid` so far.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    cluster_e2e::procs::cpu_time(pid)
}

/// One line describing the machine: CPU model, cores, memory, kernel.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or("unknown CPU", str::trim)
        .to_string();
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib: u64 = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{model}, {cores} cores, {:.1} GiB memory, Linux {}", mem_kib as f64 / (1024.0 * 1024.0), kernel.trim())
}

/// Raises this process's open-files limit (inherited by the processes it starts): the soft
/// limit to `wanted`, the hard one too when allowed (root with `CAP_SYS_RESOURCE`), else the
/// soft limit to the hard one. Returns the soft limit.
pub fn raise_open_files(wanted: u64) -> u64 {
    if let Ok((soft, hard)) = rlimit::Resource::NOFILE.get() {
        let raised_hard = hard < wanted && rlimit::Resource::NOFILE.set(wanted, wanted).is_ok();
        if !raised_hard && soft < hard.min(wanted) {
            let _ = rlimit::Resource::NOFILE.set(hard.min(wanted), hard);
        }
    }
    rlimit::Resource::NOFILE.get().map_or(0, |(soft, _)| soft)
}

/// This process's soft open-files limit (which the processes it starts inherit).
pub fn open_files_limit() -> u64 {
    rlimit::Resource::NOFILE.get().map_or(1024, |(soft, _)| soft)
}
