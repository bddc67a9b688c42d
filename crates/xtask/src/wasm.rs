//! The WebAssembly package (`crates/embedgate-wasm`): building it with the
//! pinned wasm-bindgen CLI, its Node and headless-Chromium suites, and
//! `cargo xtask bench-wasm`.
//!
//! Layout: `crates/embedgate-wasm/pkg` is the npm package (hand-written
//! `package.json`, README and Node wrappers; `web/` and `node/` outputs of
//! wasm-bindgen are generated); `www/playground/pkg` gets a copy of the web
//! build; the JS suites live in `crates/embedgate-wasm/js-tests`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context as _;

use crate::run::{cargo_cmd, status, step};
use crate::toolchain;

const JS_DIR: &str = "crates/embedgate-wasm/js-tests";
const PKG_DIR: &str = "crates/embedgate-wasm/pkg";
const PLAYGROUND_PKG: &str = "www/playground/pkg";
const WASM_OUT: &str = "target/wasm32-unknown-unknown/release/embedgate_wasm.wasm";

/// Builds the .wasm, runs wasm-bindgen for the web (ESM) and Node (CJS)
/// targets, shrinks both with wasm-opt (npm `binaryen`), and copies the web
/// build next to the playground.
pub fn build() -> anyhow::Result<()> {
    toolchain::ensure_wasm_target()?;
    toolchain::ensure_wasm_bindgen_cli()?;
    toolchain::ensure_npm_deps(JS_DIR)?;

    step("WebAssembly package: cargo build --target wasm32-unknown-unknown --release -p embedgate-wasm");
    let mut build = cargo_cmd(&[
        "build",
        "-p",
        "embedgate-wasm",
        "--target",
        "wasm32-unknown-unknown",
        "--release",
        "--locked",
    ]);
    // Whole-program LTO in one codegen unit: measured smaller *and* faster
    // than the workspace's thin LTO. opt-level stays 3: "s"/"z" saved ~1 KB
    // gzipped but made signing 2x slower (docs/wasm.md). The wasm target has
    // its own output directory, so no native build is affected.
    build
        .env("CARGO_PROFILE_RELEASE_LTO", "fat")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1");
    status(build)?;

    let root = crate::root();
    let wasm_opt = root.join(JS_DIR).join("node_modules/.bin/wasm-opt");
    for (target, dir) in [("web", "web"), ("nodejs", "node")] {
        step(&format!("wasm-bindgen --target {target} → {PKG_DIR}/{dir}"));
        let out_dir = root.join(PKG_DIR).join(dir);
        let mut wb = Command::new("wasm-bindgen");
        wb.arg(WASM_OUT)
            .args(["--target", target, "--out-dir"])
            .arg(&out_dir);
        status(wb)?;
        let bg = out_dir.join("embedgate_wasm_bg.wasm");
        let mut opt = Command::new(&wasm_opt);
        opt.arg(&bg)
            .args([
                "-O3",
                "--enable-bulk-memory",
                "--enable-nontrapping-float-to-int",
            ])
            .args([
                "--enable-sign-ext",
                "--enable-mutable-globals",
                "--enable-reference-types",
                "--enable-multivalue",
                "-o",
            ])
            .arg(&bg);
        status(opt)?;
    }

    step(&format!("copying the web build to {PLAYGROUND_PKG}"));
    let dest = root.join(PLAYGROUND_PKG);
    std::fs::create_dir_all(&dest).with_context(|| format!("cannot create {}", dest.display()))?;
    for name in ["embedgate_wasm.js", "embedgate_wasm_bg.wasm"] {
        let from = root.join(PKG_DIR).join("web").join(name);
        std::fs::copy(&from, dest.join(name))
            .with_context(|| format!("cannot copy {} to {}", from.display(), dest.display()))?;
    }
    Ok(())
}

/// Builds the package, then runs the Node suites (vectors, API, npm pack →
/// install → ESM and CJS) and the headless-Chromium suites (vectors, the
/// playground driven by Playwright, checked against the native CLI).
pub fn test() -> anyhow::Result<()> {
    build()?;

    step("WebAssembly package in Node: conformance vectors, API, npm pack → install → ESM and CommonJS");
    node_tests("node", &[])?;

    let chromium = toolchain::ensure_chromium()?;
    step("native CLI for the playground test (cargo build -p embedgate)");
    crate::run::cargo(&["build", "-p", "embedgate", "--locked"])?;
    step("WebAssembly package in headless Chromium: conformance vectors and the playground (Playwright)");
    let bin = crate::root().join("target/debug/embedgate");
    node_tests(
        "browser",
        &[
            ("CHROMIUM", chromium.as_os_str()),
            ("EMBEDGATE_BIN", bin.as_os_str()),
        ],
    )
}

/// `cargo xtask bench-wasm`: signing a ~300-byte URL with the wasm package
/// against @noble/hashes, node:crypto and WebCrypto, in Node and headless
/// Chromium, plus the gzipped package size.
pub fn bench(args: &[String]) -> anyhow::Result<()> {
    if let Some(a) = args.first() {
        anyhow::bail!("cargo xtask bench-wasm takes no arguments (got {a:?})");
    }
    build()?;
    let chromium = toolchain::ensure_chromium()?;
    step("benchmark: WebAssembly signing vs JavaScript HMAC (Node and headless Chromium)");
    let mut cmd = Command::new("node");
    cmd.arg(Path::new(JS_DIR).join("bench/bench.mjs"))
        .env("CHROMIUM", chromium);
    status(cmd)
}

/// `node --test` over every `*.test.mjs` in `js-tests/<suite>`; fails when
/// there is none, so a suite cannot vanish silently.
fn node_tests(suite: &str, env: &[(&str, &std::ffi::OsStr)]) -> anyhow::Result<()> {
    let dir = crate::root().join(JS_DIR).join(suite);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".test.mjs"))
        .collect();
    files.sort();
    crate::ensure(!files.is_empty(), || {
        format!("no *.test.mjs in {}", dir.display())
    })?;
    let mut cmd = Command::new("node");
    cmd.args(["--test", "--test-concurrency=1"]).args(&files);
    for (k, v) in env {
        cmd.env(k, v);
    }
    status(cmd)
}
