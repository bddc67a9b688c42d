//! `cargo xtask test`: every gate and every suite, in one run.

use std::process::Command;

use crate::run::{cargo, cargo_cmd, status, step};
use crate::toolchain;

pub fn run(args: &[String]) -> anyhow::Result<()> {
    if let Some(a) = args.first() {
        anyhow::bail!("cargo xtask test takes no arguments (got {a:?})");
    }
    let started = std::time::Instant::now();
    // The store and fleet tests run against PostgreSQL too.
    crate::bench_fleet::ensure_test_postgres()?;

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

    // proxy/tests/jwt_e2e.rs signs EGJ1 tokens with PyJWT (target/py-venv)
    // and jose (npm, tests/jwt-interop); it fails when either is missing.
    step("JWT libraries for the EGJ1 end-to-end test (PyJWT, jose)");
    toolchain::ensure_python_sdk_venv()?;
    toolchain::ensure_npm_deps("tests/jwt-interop")?;

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

    python_sdk()?;

    println!(
        "\nxtask: all checks and suites passed in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The Python signer: installed into `target/py-venv`, `mypy --strict` on
/// the package and its tests, then its unittest suite (vectors, PyJWT, the
/// Rust CLI through `EMBEDGATE_BIN`, EG1 and EGJ1).
fn python_sdk() -> anyhow::Result<()> {
    step("Python signer (sdk/python): install into target/py-venv");
    let python = toolchain::ensure_python_sdk_venv()?;
    let root = crate::root();
    let sdk = root.join("sdk/python");

    step("Python signer: mypy --strict");
    let mut mypy = Command::new(&python);
    mypy.args(["-m", "mypy", "--strict", "--cache-dir"])
        .arg(root.join("target/py-venv/mypy-cache"))
        .args(["src/embedgate", "tests"])
        .current_dir(&sdk);
    status(mypy)?;

    step("Python signer: unittest (vectors, round trips, hostile input, PyJWT, the CLI)");
    cargo(&["build", "-p", "embedgate", "--locked"])?;
    let mut modules = Vec::new();
    for entry in std::fs::read_dir(sdk.join("tests"))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if let Some(module) = name
            .strip_prefix("test_")
            .and_then(|m| m.strip_suffix(".py"))
        {
            modules.push(format!("tests.test_{module}"));
        }
    }
    modules.sort();
    crate::ensure(!modules.is_empty(), || {
        "no test_*.py found in sdk/python/tests".into()
    })?;
    let mut unittest = Command::new(&python);
    unittest
        .args(["-m", "unittest", "-v"])
        .args(&modules)
        .current_dir(&sdk)
        .env("EMBEDGATE_BIN", root.join("target/debug/embedgate"));
    status(unittest)
}
