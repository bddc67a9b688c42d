//! `cargo xtask bench-fleet`: three `embedgate serve` processes sharing one
//! PostgreSQL store (issue 7). Measures the propagation of deletions
//! (commit → the last proxy refusing; p50, p99 over ≥ 50) and start-up
//! time and memory with 100,000 embed secrets, then writes the results
//! under `## Fleet (cargo xtask bench-fleet)` in `BENCHMARKS.md`.
//!
//! The work is `proxy/examples/bench_fleet.rs` (release build); this task
//! builds it, checks PostgreSQL, runs it and records the machine.

use std::process::Command;

use anyhow::{bail, Context as _};

use crate::run::{cargo, step};

/// Fails loudly unless PostgreSQL answers at `url`.
fn check_postgres(url: &str) -> anyhow::Result<()> {
    crate::ensure(crate::services::postgres_answers(url), || {
        format!(
            "PostgreSQL is needed at {url} for the fleet benchmark (EMBEDGATE_BENCH_POSTGRES_URL, \
             else {}), and it does not answer. Start it, or point the variable at one.",
            crate::services::POSTGRES_ENV
        )
    })
}

fn capture(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let mut extra: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--secrets" | "--deletions" => {
                let v = it.next().with_context(|| format!("{a} needs a number"))?;
                v.parse::<usize>()
                    .with_context(|| format!("{a} needs a number"))?;
                extra.extend([a.clone(), v.clone()]);
            }
            other => bail!("cargo xtask bench-fleet: unknown argument {other:?} (takes --secrets N, --deletions N)"),
        }
    }
    let url = std::env::var("EMBEDGATE_BENCH_POSTGRES_URL")
        .or_else(|_| std::env::var(crate::services::POSTGRES_ENV))
        .unwrap_or_else(|_| crate::services::DEFAULT_POSTGRES_URL.to_owned());
    check_postgres(&url)?;

    step("release build of embedgate and the fleet benchmark");
    cargo(&[
        "build",
        "--release",
        "-p",
        "embedgate",
        "--bin",
        "embedgate",
        "--example",
        "bench_fleet",
    ])?;
    let root = crate::root();
    let load_before = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();

    step("three proxies on one PostgreSQL store");
    let out = Command::new(root.join("target/release/examples/bench_fleet"))
        .args(&extra)
        .env("EMBEDGATE_BENCH_POSTGRES_URL", &url)
        .env("EMBEDGATE_BIN", root.join("target/release/embedgate"))
        .current_dir(&root)
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("cannot run the fleet benchmark")?;
    if !out.status.success() {
        bail!("the fleet benchmark failed ({})", out.status);
    }
    let table = String::from_utf8(out.stdout)?;
    let load_after = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    print!("{table}");

    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or_else(|| "unknown CPU".to_owned(), |s| s.trim().to_owned());
    let section = format!(
        "## Fleet (cargo xtask bench-fleet)\n\n\
         - Machine: {cpu}, {} cores (`nproc`), Linux {}; PostgreSQL {} on loopback. \
         Shared with other engineers compiling: load average {} before, {} after.\n\
         - Command: `cargo xtask bench-fleet {}` (release build).\n\
         - Date: {}.\n\
         - Method: `proxy/examples/bench_fleet.rs`. Three `embedgate serve` processes on one \
         fresh PostgreSQL schema. Propagation: timer started just before the deleting store \
         call (commit included), stopped when the last proxy answers a freshly signed URL \
         with 403 `unknown_key` (each proxy polled in turn over new connections, so the \
         figure is an upper bound). Start-up: process spawn to `/readyz` 200, with the cache \
         loaded from the store. Memory: `VmRSS` 300 ms after ready, and the peak `VmHWM`.\n\n\
         {table}\n",
        capture("nproc", &[]),
        capture("uname", &["-r"]),
        capture("psql", &["--version"]).replace("psql (PostgreSQL) ", ""),
        load_before
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        load_after
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        extra.join(" "),
        capture("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
    );
    let path = root.join("BENCHMARKS.md");
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    let new = match old.find("## Fleet (cargo xtask bench-fleet)") {
        Some(start) => {
            let end = old[start + 3..]
                .find("\n## ")
                .map_or(old.len(), |e| start + 3 + e + 1);
            format!("{}{}{}", &old[..start], section, &old[end..])
        }
        None => format!("{}\n{}", old.trim_end(), "\n".to_owned() + &section),
    };
    std::fs::write(&path, new).context("writing BENCHMARKS.md")?;
    println!("\nwritten to BENCHMARKS.md");
    Ok(())
}
