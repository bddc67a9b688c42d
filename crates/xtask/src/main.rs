//! `cargo xtask <task>`: the project's two commands and its benchmarks.
//!
//! Every task installs what it needs (wasm target, pinned tools, npm
//! packages, Chromium, PostgreSQL and Redis when root) and fails loudly;
//! nothing is skipped silently.

mod apt;
mod bench_fleet;
mod bench_proxy;
mod demo;
mod readme_tour;
mod run;
mod services;
mod test;
mod toolchain;
mod wasm;

use anyhow::bail;

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  test          install what tests need, then run every check and test suite
  demo          build and run a live demo
  readme-tour   run the README's tour block verbatim (part of test)
  bench         criterion benchmarks of the core (sign/verify vs the HMAC floor)
  bench-wasm    the WebAssembly package vs JS HMAC in Node and headless Chromium
  wasm-size     build the WebAssembly package; its gzipped size against its budget
  bench-proxy   the edge proxy vs the backend direct and nginx, under wrk
                (--rounds N, --duration S, --baseline OTHER_EMBEDGATE_BINARY, --allow-idle,
                --access-log)
  bench-fleet   three proxies on one PostgreSQL store: propagation, start-up, memory
  with-services COMMAND [ARGS...]
                run COMMAND with EMBEDGATE_TEST_POSTGRES_URL and EMBEDGATE_TEST_REDIS_URL
                set, as `test` does (throwaway servers when none answers)
  fuzz          the core's differential fuzz against the spec reference, in release
                mode (--cases N per property; default 1000000)
";

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test::run(&args[1..]),
        Some("demo") => demo::run(&args[1..]),
        Some("readme-tour") => {
            run::cargo(&["build", "-p", "embedgate", "--locked"]).and_then(|()| readme_tour::run())
        }
        Some("bench") => run::cargo(&["bench", "-p", "embedgate-core", "--bench", "eg1"]),
        Some("bench-wasm") => wasm::bench(&args[1..]),
        Some("wasm-size") => wasm::size(&args[1..]),
        Some("bench-proxy") => bench_proxy::run(&args[1..]),
        Some("bench-fleet") => bench_fleet::run(&args[1..]),
        Some("with-services") => services::with_services(&args[1..]),
        Some("fuzz") => fuzz(&args[1..]),
        Some("-h" | "--help" | "help") | None => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(anyhow::anyhow!("unknown task {other:?}\n\n{USAGE}")),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\nxtask: FAILED: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `cargo xtask fuzz --cases N`: the differential tests of the core
/// (`crates/embedgate-core/src/differential.rs`) with N cases per property
/// (`EMBEDGATE_FUZZ_CASES`), optimised, since a million cases in a debug
/// build take hours.
fn fuzz(args: &[String]) -> anyhow::Result<()> {
    let mut cases: u64 = 1_000_000;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--cases" => {
                cases = it
                    .next()
                    .ok_or_else(|| anyhow::anyhow!("--cases needs a count"))?
                    .parse()
                    .map_err(|_| anyhow::anyhow!("--cases needs a whole number"))?;
                ensure((1..=u64::from(u32::MAX)).contains(&cases), || {
                    format!("--cases must lie between 1 and {}", u32::MAX)
                })?;
            }
            other => bail!("cargo xtask fuzz: unknown argument {other:?} (expected --cases N)"),
        }
    }
    run::step(&format!(
        "differential fuzz of embedgate-core: {cases} cases per property (release)"
    ));
    let started = std::time::Instant::now();
    let mut cmd = run::cargo_cmd(&[
        "test",
        "--release",
        "--locked",
        "-p",
        "embedgate-core",
        "--lib",
        "differential",
    ]);
    cmd.env("EMBEDGATE_FUZZ_CASES", cases.to_string());
    run::status(cmd)?;
    println!(
        "fuzz: {cases} cases per property passed in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The workspace root (xtask lives in `crates/xtask`).
pub fn root() -> std::path::PathBuf {
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .nth(2)
        .map(std::path::Path::to_path_buf)
        .unwrap_or_else(|| here.to_path_buf())
}

/// Fails with a message unless `cond`.
pub fn ensure(cond: bool, msg: impl FnOnce() -> String) -> anyhow::Result<()> {
    if !cond {
        bail!("{}", msg());
    }
    Ok(())
}
