//! What Linux's /proc says of a process: CPU time and memory.

use anyhow::Context;

/// Clock ticks per second of /proc/<pid>/stat: USER_HZ, which the kernel fixes
/// at 100 for user space on every architecture Rust targets.
const TICKS_PER_SECOND: f64 = 100.0;

/// User plus system CPU time of every thread of `pid` so far, in seconds.
pub fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("could not read {path}: is process {pid} running?"))?;
    parse_cpu_seconds(&text).with_context(|| format!("unexpected format of {path}"))
}

/// CPU time of this process.
pub fn own_cpu_seconds() -> f64 {
    cpu_seconds(std::process::id()).unwrap_or(0.0)
}

fn parse_cpu_seconds(stat: &str) -> Option<f64> {
    // The command name (field 2) may hold spaces and parentheses: count the
    // fields after its closing parenthesis. utime and stime are fields 14 and 15.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / TICKS_PER_SECOND)
}

/// The most resident memory `pid` ever had (VmHWM), in KiB.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_status_kib(&status, "VmHWM:")
}

fn parse_status_kib(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cpu_time_even_with_a_strange_command_name() {
        let stat = "4242 (my (odd) server) S 1 4242 4242 0 -1 4194560 300 0 0 0 \
                    250 75 0 0 20 0 9 0 12345 1000000 500 18446744073709551615";
        assert_eq!(parse_cpu_seconds(stat), Some(3.25));
        assert_eq!(parse_cpu_seconds("garbage"), None);
    }

    #[test]
    fn reads_this_process() {
        assert!(cpu_seconds(std::process::id()).is_ok());
        assert!(peak_rss_kib(std::process::id()).is_some_and(|kib| kib > 0));
        assert_eq!(
            parse_status_kib("Name:\tx\nVmHWM:\t  12345 kB\n", "VmHWM:"),
            Some(12345)
        );
    }
}
