//! `cargo xtask bench-fleet`: three `embedgate serve` processes sharing one
//! PostgreSQL store (issue 7). Measures the propagation of deletions
//! (commit → the last proxy refusing; p50, p99 over ≥ 50) and start-up
//! time and memory with 100,000 embed secrets, then writes the results
//! under `## Fleet (cargo xtask bench-fleet)` in `BENCHMARKS.md`.
//!
//! The work is `proxy/examples/bench_fleet.rs` (release build); this task
//! builds it, checks PostgreSQL, runs it and records the machine.
//! Also home of [`ensure_test_postgres`], which `cargo xtask test` calls.

use std::net::{TcpStream, ToSocketAddrs as _};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context as _};

use crate::run::{cargo, step};

/// The variable the store and fleet tests read.
pub const TEST_POSTGRES_ENV: &str = "EMBEDGATE_TEST_POSTGRES_URL";
/// The local server `cargo xtask test` uses unless told otherwise.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// `host:port` of a `postgres://user@host:port/db` URL (port 5432 if none).
fn host_port(url: &str) -> anyhow::Result<String> {
    let rest = url
        .split_once("://")
        .map(|(_, r)| r)
        .context("expected postgres://USER@HOST:PORT/DB")?;
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    if host.is_empty() {
        bail!("no host in {url}");
    }
    Ok(if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:5432")
    })
}

/// Fails loudly unless a PostgreSQL server answers at `url`.
fn check_postgres(url: &str) -> anyhow::Result<()> {
    let hp = host_port(url)?;
    let answers = hp
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .is_some_and(|a| TcpStream::connect_timeout(&a, Duration::from_secs(3)).is_ok());
    let ready = answers
        && Command::new("pg_isready")
            .args(["-d", url, "-t", "3"])
            .output()
            .map_or(true, |o| o.status.success());
    if !ready {
        bail!(
            "PostgreSQL is needed at {hp} for the fleet tests ({TEST_POSTGRES_ENV}={url}), \
             and it does not answer. Start it, or point {TEST_POSTGRES_ENV} at one."
        );
    }
    Ok(())
}

/// Sets `EMBEDGATE_TEST_POSTGRES_URL` to the local server unless already
/// set, after checking that the server answers.
pub fn ensure_test_postgres() -> anyhow::Result<()> {
    let url = std::env::var(TEST_POSTGRES_ENV)
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| DEFAULT_POSTGRES_URL.to_owned());
    check_postgres(&url)?;
    // Read by the child test processes.
    std::env::set_var(TEST_POSTGRES_ENV, &url);
    Ok(())
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
        .or_else(|_| std::env::var(TEST_POSTGRES_ENV))
        .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
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
