//! `cargo xtask test`: every gate and every suite, in one run.

use std::process::Command;

use crate::run::{cargo, cargo_cmd, status, step};
use crate::toolchain;

pub fn run(args: &[String]) -> anyhow::Result<()> {
    if let Some(a) = args.first() {
        anyhow::bail!("cargo xtask test takes no arguments (got {a:?})");
    }
    let started = std::time::Instant::now();
    // The store and fleet tests run against PostgreSQL and Redis: the
    // machine's, or throwaway ones stopped when `_services` drops (also
    // when a step fails).
    let _services = crate::services::ensure()?;

    step("rustfmt --check");
    cargo(&["fmt", "--all", "--", "--check"])?;

    step("clippy -D warnings");
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ])?;

    step("rustdoc -D warnings");
    let mut doc = cargo_cmd(&["doc", "--workspace", "--no-deps", "--locked"]);
    doc.env("RUSTDOCFLAGS", "-D warnings");
    status(doc)?;

    step("embedgate-core builds for wasm32-unknown-unknown (no clock, no I/O)");
    toolchain::ensure_wasm_target()?;
    cargo(&[
        "build",
        "-p",
        "embedgate-core",
        "--target",
        "wasm32-unknown-unknown",
        "--locked",
    ])?;

    step("Rust tests (unit, conformance vectors, property tests, CLI, doc tests)");
    cargo(&["test", "--workspace", "--locked"])?;

    // The WebAssembly package: built, then its Node and headless-Chromium suites.
    crate::wasm::test()?;

    step("admin console in headless Chromium against a real embedgate serve (Playwright)");
    let chromium = toolchain::ensure_chromium()?;
    toolchain::ensure_npm_deps("www/admin/tests")?;
    cargo(&["build", "-p", "embedgate", "--locked"])?;
    let mut console = Command::new("node");
    console
        .args(["--test", "--test-concurrency=1", "admin-console.test.mjs"])
        .current_dir(crate::root().join("www/admin/tests"))
        .env("CHROMIUM", chromium)
        .env(
            "EMBEDGATE_BIN",
            crate::root().join("target/debug/embedgate"),
        );
    status(console)?;

    step("independent implementation cross-check (Python standard library)");
    toolchain::ensure_python()?;
    cargo(&["build", "-p", "embedgate", "--locked"])?;
    let mut py = Command::new("python3");
    py.args([
        "-m",
        "unittest",
        "-v",
        "tests/crosscheck/test_crosscheck.py",
    ])
    .env(
        "EMBEDGATE_BIN",
        crate::root().join("target/debug/embedgate"),
    );
    status(py)?;

    println!(
        "\nxtask: all checks and suites passed in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
