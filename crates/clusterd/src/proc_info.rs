//! The master's own process info in the shape of Circus's `util.get_info` (psutil), so that
//! `circusctl dstats` prints it like a circusd's.

use std::sync::Mutex;
use std::time::Instant;

use procfs::process::Process;
use procfs::{Current, Meminfo};
use serde_json::{json, Value};

/// CPU ticks and wall time at the previous call, for a CPU percentage over the interval
/// between two `dstats` calls (psutil's `cpu_percent(interval=None)`).
static LAST_CPU: Mutex<Option<(Instant, u64)>> = Mutex::new(None);

/// This process's info: `pid cmdline username nice mem_info1 mem_info2 cpu mem ctime
/// create_time age children`.
///
/// # Errors
/// /proc could not be read.
pub fn current() -> Result<Value, String> {
    let me = Process::myself().map_err(|e| e.to_string())?;
    let stat = me.stat().map_err(|e| e.to_string())?;
    let status = me.status().map_err(|e| e.to_string())?;
    let ticks_per_sec = procfs::ticks_per_second().max(1);
    let page = procfs::page_size();
    let boot = procfs::boot_time_secs().map_err(|e| e.to_string())?;
    let total_mem = Meminfo::current().map(|m| m.mem_total).unwrap_or(0);

    let rss = stat.rss * page;
    let cpu_ticks = stat.utime + stat.stime;
    let create_time = boot as f64 + stat.starttime as f64 / ticks_per_sec as f64;
    let age = (clusterd_protocol::message::now() - create_time).max(0.0);
    let cpu = cpu_percent(cpu_ticks, ticks_per_sec, age);
    let mem = if total_mem > 0 { (rss as f64 / total_mem as f64 * 100_000.0).round() / 1000.0 } else { 0.0 };
    let cmdline = me
        .cmdline()
        .ok()
        .and_then(|args| args.into_iter().next())
        .map(|arg0| arg0.rsplit('/').next().unwrap_or_default().to_string())
        .unwrap_or_else(|| stat.comm.clone());
    Ok(json!({
        "mem_info1": bytes2human(rss),
        "mem_info2": bytes2human(stat.vsize),
        "cpu": cpu,
        "mem": mem,
        "ctime": ctime(cpu_ticks as f64 / ticks_per_sec as f64),
        "pid": me.pid,
        "username": username(status.ruid).unwrap_or_else(|| status.ruid.to_string()),
        "nice": stat.nice,
        "create_time": (create_time * 100.0).round() / 100.0,
        "age": age,
        "cmdline": cmdline,
        "children": [],
    }))
}

fn cpu_percent(ticks: u64, ticks_per_sec: u64, age: f64) -> f64 {
    let now = Instant::now();
    let mut last = LAST_CPU.lock().expect("cpu lock");
    let (used, wall) = match *last {
        Some((then, old)) => (ticks.saturating_sub(old), now.duration_since(then).as_secs_f64()),
        None => (ticks, age),
    };
    *last = Some((now, ticks));
    if wall <= 0.0 {
        return 0.0;
    }
    ((used as f64 / ticks_per_sec as f64) / wall * 1000.0).round() / 10.0
}

/// Circus's `bytes2human`: `"25.42M"`, binary prefixes, bytes below 1 KiB as `"512B"`.
pub fn bytes2human(n: u64) -> String {
    const SYMBOLS: [char; 8] = ['K', 'M', 'G', 'T', 'P', 'E', 'Z', 'Y'];
    for (i, symbol) in SYMBOLS.iter().enumerate().rev() {
        let prefix = 1u128 << ((i + 1) * 10);
        if u128::from(n) >= prefix {
            return format!("{:.2}{symbol}", n as f64 / prefix as f64);
        }
    }
    format!("{n}B")
}

/// Circus's CPU-time format `M:SS.cc`, including its quirk of printing the first two digits
/// of the microseconds.
fn ctime(seconds: f64) -> String {
    let whole = seconds.trunc() as u64;
    let micros = ((seconds - seconds.trunc()) * 1e6).round() as u64;
    let micro_digits: String = micros.to_string().chars().take(2).collect();
    format!("{}:{:02}.{micro_digits}", whole / 60 % 60, whole % 60)
}

fn username(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        (fields.nth(1)? == uid.to_string()).then(|| name.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_circus() {
        assert_eq!(bytes2human(512), "512B");
        assert_eq!(bytes2human(26_655_703), "25.42M");
        assert_eq!(ctime(0.9), "0:00.90");
        assert_eq!(ctime(75.25), "1:15.25");
    }

    #[test]
    fn reads_its_own_process() {
        let info = current().unwrap();
        for key in ["pid", "cmdline", "username", "nice", "mem_info1", "mem_info2", "cpu", "mem", "ctime"] {
            assert!(info.get(key).is_some(), "{key} missing from {info}");
        }
        assert_eq!(info["pid"], json!(std::process::id()));
    }
}
