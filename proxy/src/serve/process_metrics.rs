//! The process's own metrics, read from `/proc/self` at scrape time
//! (Linux; elsewhere none are emitted), with the names every Prometheus
//! client library uses: `process_cpu_seconds_total`,
//! `process_resident_memory_bytes`, `process_virtual_memory_bytes`,
//! `process_open_fds`, `process_max_fds`, `process_start_time_seconds`,
//! `process_threads`.

use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// Reads `/proc/self` on each scrape.
#[derive(Debug)]
pub struct ProcessCollector;

/// What `/proc/self` tells.
#[derive(Debug, Clone, PartialEq)]
struct ProcessStats {
    cpu_seconds: f64,
    resident_bytes: u64,
    virtual_bytes: u64,
    threads: u64,
    start_time_seconds: f64,
    open_fds: Option<u64>,
    max_fds: Option<u64>,
}

/// `/proc/self/auxv` entry keys (`<elf.h>`).
const AT_PAGESZ: u64 = 6;
const AT_CLKTCK: u64 = 17;

/// A native-word key/value vector: the kernel tells a process its clock
/// tick and page size there, so no libc call is needed.
fn auxv(key: u64) -> Option<u64> {
    let raw = std::fs::read("/proc/self/auxv").ok()?;
    raw.chunks_exact(16).find_map(|pair| {
        let (k, v) = pair.split_at(8);
        let k = u64::from_ne_bytes(k.try_into().ok()?);
        (k == key).then(|| v.try_into().ok().map(u64::from_ne_bytes))?
    })
}

/// Parses `/proc/self/stat` (see proc(5)); `btime` is the boot time
/// (Unix seconds) from `/proc/stat`.
fn parse_stat(stat: &str, clk_tck: u64, page_size: u64, btime: u64) -> Option<ProcessStats> {
    // The command name (field 2) is in parentheses and may hold spaces:
    // fields are counted after its closing one, from field 3 (`state`).
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| -> Option<u64> { f.get(n - 3)?.parse().ok() };
    let ticks = (field(14)? + field(15)?) as f64;
    let tck = clk_tck.max(1) as f64;
    Some(ProcessStats {
        cpu_seconds: ticks / tck,
        threads: field(20)?,
        start_time_seconds: btime as f64 + field(22)? as f64 / tck,
        virtual_bytes: field(23)?,
        resident_bytes: field(24)?.saturating_mul(page_size),
        open_fds: None,
        max_fds: None,
    })
}

/// The soft limit of `Max open files` in `/proc/self/limits`.
fn parse_max_fds(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn read() -> Option<ProcessStats> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let btime = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    // USER_HZ is 100 and pages 4 KiB on every common Linux, should auxv
    // be unreadable.
    let mut s = parse_stat(
        &stat,
        auxv(AT_CLKTCK).unwrap_or(100),
        auxv(AT_PAGESZ).unwrap_or(4096),
        btime,
    )?;
    s.open_fds = std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|d| d.count() as u64);
    s.max_fds = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| parse_max_fds(&l));
    Some(s)
}

fn gauge<N>(enc: &mut DescriptorEncoder<'_>, name: &str, help: &str, v: N) -> fmt::Result
where
    ConstGauge<N>: EncodeMetric,
{
    let g = ConstGauge::new(v);
    g.encode(enc.encode_descriptor(name, help, None, g.metric_type())?)
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Collector for ProcessCollector {
    fn encode(&self, mut enc: DescriptorEncoder<'_>) -> fmt::Result {
        let Some(s) = read() else {
            return Ok(());
        };
        let cpu = ConstCounter::new(s.cpu_seconds);
        cpu.encode(enc.encode_descriptor(
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds.",
            None,
            cpu.metric_type(),
        )?)?;
        gauge(
            &mut enc,
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            count(s.resident_bytes),
        )?;
        gauge(
            &mut enc,
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
            count(s.virtual_bytes),
        )?;
        gauge(
            &mut enc,
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            s.start_time_seconds,
        )?;
        gauge(
            &mut enc,
            "process_threads",
            "Number of OS threads in the process.",
            count(s.threads),
        )?;
        if let Some(n) = s.open_fds {
            gauge(
                &mut enc,
                "process_open_fds",
                "Number of open file descriptors.",
                count(n),
            )?;
        }
        if let Some(n) = s.max_fds {
            gauge(
                &mut enc,
                "process_max_fds",
                "Maximum number of open file descriptors.",
                count(n),
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_a_spaced_command_name() {
        // proc(5): pid (comm) state ppid ... utime(14) stime(15) ...
        // num_threads(20) itrealvalue(21) starttime(22) vsize(23) rss(24)
        let stat = "4242 (embed gate) S 1 4242 4242 0 -1 4194560 900 0 0 0 \
                    250 50 0 0 20 0 7 0 123456 104857600 2560 18446744073709551615";
        let s = parse_stat(stat, 100, 4096, 1_700_000_000).expect("parses");
        assert_eq!(s.cpu_seconds, 3.0);
        assert_eq!(s.threads, 7);
        assert_eq!(s.start_time_seconds, 1_700_000_000.0 + 1234.56);
        assert_eq!(s.virtual_bytes, 104_857_600);
        assert_eq!(s.resident_bytes, 2560 * 4096);
        assert_eq!(parse_stat("garbage", 100, 4096, 0), None);
    }

    #[test]
    fn reads_the_running_process() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max open files            1024                 524288               files     \n";
        assert_eq!(parse_max_fds(limits), Some(1024));
        if cfg!(target_os = "linux") {
            let s = read().expect("/proc/self");
            assert!(s.resident_bytes > 1024 * 1024, "{s:?}");
            assert!(s.open_fds.is_some_and(|n| n >= 3), "{s:?}");
            assert!(s.threads >= 1);
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock")
                .as_secs_f64();
            assert!(
                s.start_time_seconds <= now + 1.0 && s.start_time_seconds > now - 86_400.0 * 365.0,
                "{s:?}"
            );
            assert_eq!(auxv(AT_CLKTCK), Some(100));
        }
    }
}
