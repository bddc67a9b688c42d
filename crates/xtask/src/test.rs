//! `cargo xtask test`: every gate and every suite, in one run.

use std::process::Command;

use anyhow::Context as _;

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

    step("embedgate-store builds with PostgreSQL alone (no SQLite)");
    cargo(&[
        "check",
        "-p",
        "embedgate-store",
        "--no-default-features",
        "--features",
        "postgres",
        "--locked",
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

    embed_sdk()?;

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

    recipes()?;

    cargo(&["build", "-p", "embedgate", "--locked"])?;
    crate::readme_tour::run()?;

    println!(
        "\nxtask: all checks and suites passed in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The host-page embed SDK (`www/embed/`) in headless Chromium against a
/// real `embedgate serve` (`www/embed/tests`): a dashboard kept live for
/// three session lengths by renewals (EG1 and EGJ1), revocation and
/// refusals reported to the host page. About two minutes.
fn embed_sdk() -> anyhow::Result<()> {
    step("embed SDK (www/embed) in headless Chromium: renewal for 65 s at max_session = 20, revocation, refusals");
    let root = crate::root();
    for file in [
        "www/embed/embed.js",
        "www/embed/embed.d.ts",
        "www/embed/package.json",
        "www/embed/tests/embed.test.mjs",
    ] {
        crate::ensure(root.join(file).is_file(), || format!("{file} is missing"))?;
    }
    let chromium = toolchain::ensure_chromium()?;
    toolchain::ensure_npm_deps("www/embed/tests")?;
    cargo(&["build", "-p", "embedgate", "--locked"])?;
    let mut node = Command::new("node");
    node.args(["--test", "--test-concurrency=1", "embed.test.mjs"])
        .current_dir(root.join("www/embed/tests"))
        .env("CHROMIUM", chromium)
        .env("EMBEDGATE_BIN", root.join("target/debug/embedgate"));
    status(node)
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

/// The dashboard recipes (`docs/recipes/`, tested in `tests/recipes`):
/// every route block through `embedgate serve --check`; Streamlit and Dash,
/// installed from PyPI at pinned versions, behind `embedgate serve` and
/// embedded through a signed URL in a cross-origin iframe in headless
/// Chromium. Then the systemd unit of `docs/deploy`.
fn recipes() -> anyhow::Result<()> {
    step("dashboard recipes: Streamlit and Dash into target/recipes-venv (tests/recipes/requirements.txt)");
    let python = toolchain::ensure_recipes_venv()?;
    let chromium = toolchain::ensure_chromium()?;
    toolchain::ensure_npm_deps("tests/recipes")?;
    cargo(&["build", "-p", "embedgate", "--locked"])?;

    step("dashboard recipes: route blocks through serve --check; Streamlit and Dash behind embedgate serve in a cross-origin iframe (headless Chromium)");
    let root = crate::root();
    let mut node = Command::new("node");
    node.args(["--test", "--test-concurrency=1", "recipes.test.mjs"])
        .current_dir(root.join("tests/recipes"))
        .env("CHROMIUM", chromium)
        .env("RECIPES_PYTHON", python)
        .env("EMBEDGATE_BIN", root.join("target/debug/embedgate"));
    status(node)?;

    deploy_unit()
}

/// `docs/deploy/embedgate.service` through `systemd-analyze verify` and
/// `systemd-analyze security` (exposure at most 2.0), when systemd-analyze
/// is installed or can be (as root); otherwise the step says it skipped.
fn deploy_unit() -> anyhow::Result<()> {
    step("systemd unit docs/deploy/embedgate.service: systemd-analyze verify, security");
    let Some(analyze) = toolchain::systemd_analyze()? else {
        println!(
            "xtask: SKIPPED the systemd unit check: systemd-analyze is not installed and cannot be \
             installed here (xtask installs it only as root with apt-get)"
        );
        return Ok(());
    };
    let root = crate::root();
    let unit = std::fs::read_to_string(root.join("docs/deploy/embedgate.service"))?;
    // verify checks that each Exec program exists: the unit's copy points
    // at the binary just built instead of /usr/local/bin.
    let dir = root.join("target/deploy-unit");
    std::fs::create_dir_all(&dir)?;
    let copy = dir.join("embedgate.service");
    let bin = root.join("target/debug/embedgate");
    std::fs::write(
        &copy,
        unit.replace("/usr/local/bin/embedgate", &bin.to_string_lossy()),
    )?;

    // verify only warns about unknown keys and values it cannot parse and
    // still exits 0: any output is a failure.
    let out = Command::new(&analyze)
        .arg("verify")
        .arg(&copy)
        .output()
        .context("cannot run systemd-analyze verify")?;
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    crate::ensure(out.status.success() && said.trim().is_empty(), || {
        format!(
            "systemd-analyze verify docs/deploy/embedgate.service ({}):\n{said}",
            out.status
        )
    })?;
    println!("systemd-analyze verify: no complaint");

    // --threshold counts in tenths: 20 = an exposure level of 2.0 ("OK").
    let out = Command::new(&analyze)
        .args(["security", "--offline=yes", "--threshold=20"])
        .arg(&copy)
        .output()
        .context("cannot run systemd-analyze security")?;
    let report = String::from_utf8_lossy(&out.stdout);
    crate::ensure(out.status.success(), || {
        format!(
            "systemd-analyze security: docs/deploy/embedgate.service is more exposed than 2.0 ({}):\n{report}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    println!(
        "systemd-analyze security: {}",
        report
            .lines()
            .rev()
            .find(|l| l.contains("exposure level"))
            .unwrap_or("(no exposure line)")
            .trim()
    );
    Ok(())
}
