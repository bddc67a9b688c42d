//! Installing what the tasks need, when it is missing.

use std::process::Command;

use anyhow::Context as _;

use crate::run::{status, step};

/// The wasm32 target for the core's no-clock build and the wasm package.
pub fn ensure_wasm_target() -> anyhow::Result<()> {
    let out = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("rustup is needed to install the wasm32-unknown-unknown target")?;
    if String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.trim() == "wasm32-unknown-unknown")
    {
        return Ok(());
    }
    step("installing the wasm32-unknown-unknown target");
    let mut cmd = Command::new("rustup");
    cmd.args(["target", "add", "wasm32-unknown-unknown"]);
    status(cmd)
}

/// python3, for the cross-implementation check and the Python signer.
pub fn ensure_python() -> anyhow::Result<()> {
    crate::ensure(crate::run::has("python3"), || {
        "python3 (>= 3.9) is needed for the independent HMAC cross-check (tests/crosscheck) and the \
         Python signer's tests (sdk/python); install it (apt-get install python3 python3-venv)"
            .into()
    })
}

/// What the Python signer's tests install beside it. mypy stays below 2:
/// mypy 2 no longer checks code for Python 3.9, the package's minimum.
pub const PYTHON_TEST_DEPS: &[&str] = &["PyJWT>=2.8,<3", "mypy>=1.11,<2"];

/// The virtualenv `target/py-venv` with the Python signer (`sdk/python`)
/// and [`PYTHON_TEST_DEPS`] installed; returns its `python`. pip runs only
/// when the venv is new, the package's files (`pyproject.toml`, `README.md`,
/// `src/`) changed since the last install, or the dependency list did.
pub fn ensure_python_sdk_venv() -> anyhow::Result<std::path::PathBuf> {
    ensure_python()?;
    let root = crate::root();
    let venv = root.join("target/py-venv");
    let python = venv.join("bin/python");
    // A venv whose interpreter went away (python3 upgraded) is made again.
    if !python.is_file() {
        step("creating the Python test virtualenv target/py-venv");
        let mut cmd = Command::new("python3");
        cmd.args(["-m", "venv", "--clear"]).arg(&venv);
        status(cmd).context(
            "python3 -m venv failed: the venv module and ensurepip are needed (apt-get install python3-venv)",
        )?;
    }
    let stamp = venv.join("embedgate-sdk-installed");
    let wanted = format!("{}\n", PYTHON_TEST_DEPS.join("\n"));
    let sdk = root.join("sdk/python");
    let installed = modified(&stamp);
    let current = std::fs::read_to_string(&stamp).is_ok_and(|s| s == wanted)
        && installed.is_some()
        && newest_modified(&[
            sdk.join("pyproject.toml"),
            sdk.join("README.md"),
            sdk.join("src"),
        ])? <= installed;
    if current {
        return Ok(python);
    }
    step("pip install ./sdk/python and its test dependencies into target/py-venv");
    let mut pip = Command::new(&python);
    pip.args([
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--quiet",
        "./sdk/python",
    ])
    .args(PYTHON_TEST_DEPS);
    status(pip).context(
        "pip could not install the Python signer or its test dependencies (PyPI must be reachable)",
    )?;
    std::fs::write(&stamp, wanted).with_context(|| format!("cannot write {}", stamp.display()))?;
    Ok(python)
}

/// The latest modification time of these files and everything under these
/// directories.
fn newest_modified(paths: &[std::path::PathBuf]) -> anyhow::Result<Option<std::time::SystemTime>> {
    let mut newest = None;
    let mut todo = paths.to_vec();
    while let Some(path) = todo.pop() {
        let meta =
            std::fs::metadata(&path).with_context(|| format!("cannot read {}", path.display()))?;
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path)
                .with_context(|| format!("cannot list {}", path.display()))?
            {
                todo.push(entry?.path());
            }
        } else {
            newest = newest.max(meta.modified().ok());
        }
    }
    Ok(newest)
}

/// The wasm-bindgen version `crates/embedgate-wasm` pins (`=`); the CLI must
/// be the identical version or the generated glue does not match.
pub const WASM_BINDGEN_VERSION: &str = "0.2.117";

/// The wasm-bindgen CLI at exactly [`WASM_BINDGEN_VERSION`], installed with
/// `cargo install` when missing or another version.
pub fn ensure_wasm_bindgen_cli() -> anyhow::Result<()> {
    let installed = Command::new("wasm-bindgen")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    let wanted = format!("wasm-bindgen {WASM_BINDGEN_VERSION}");
    if installed.as_deref() == Some(wanted.as_str()) {
        return Ok(());
    }
    step(&format!(
        "installing wasm-bindgen-cli {WASM_BINDGEN_VERSION} (found: {})",
        installed.as_deref().unwrap_or("none")
    ));
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args([
        "install",
        "wasm-bindgen-cli",
        "--version",
        WASM_BINDGEN_VERSION,
    ]);
    status(cmd)?;
    let after = Command::new("wasm-bindgen")
        .arg("--version")
        .output()
        .context("wasm-bindgen is not on PATH after `cargo install` (is ~/.cargo/bin on PATH?)")?;
    crate::ensure(
        String::from_utf8_lossy(&after.stdout).trim() == wanted,
        || {
            format!("`wasm-bindgen --version` is not {wanted} after installing it; is another wasm-bindgen earlier on PATH?")
        },
    )
}

/// The Chromium the browser tests drive (Playwright's own download is not
/// used): `$CHROMIUM`, else `/usr/bin/chromium`, installed with apt-get when
/// missing and running as root.
pub fn ensure_chromium() -> anyhow::Result<std::path::PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        let path = std::path::PathBuf::from(path);
        crate::ensure(path.is_file(), || {
            format!("CHROMIUM={} does not exist", path.display())
        })?;
        return Ok(path);
    }
    let path = std::path::PathBuf::from("/usr/bin/chromium");
    if path.is_file() {
        return Ok(path);
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    crate::ensure(root && crate::run::has("apt-get"), || {
        "Chromium is needed for the browser tests and benchmark: install Debian's (apt-get install chromium) \
         or set CHROMIUM=/path/to/chrome; xtask installs it only when running as root with apt-get"
            .into()
    })?;
    step("installing chromium (apt-get)");
    let mut update = Command::new("apt-get");
    update.arg("update");
    status(update)?;
    let mut install = Command::new("apt-get");
    install
        .args(["install", "-y", "--no-install-recommends", "chromium"])
        .env("DEBIAN_FRONTEND", "noninteractive");
    status(install)?;
    crate::ensure(path.is_file(), || {
        "apt-get installed chromium but /usr/bin/chromium is missing".into()
    })?;
    Ok(path)
}

/// `npm ci` in `dir` (relative to the root) from its committed
/// `package-lock.json`, unless `node_modules` already matches it.
pub fn ensure_npm_deps(dir: &str) -> anyhow::Result<()> {
    crate::ensure(crate::run::has("node") && crate::run::has("npm"), || {
        "Node.js (>= 20) and npm are needed for the WebAssembly package's tests; install them"
            .into()
    })?;
    let dir_path = crate::root().join(dir);
    let lock = dir_path.join("package-lock.json");
    crate::ensure(lock.is_file(), || {
        format!("{dir}/package-lock.json is missing (it is committed)")
    })?;
    // npm records what it installed in node_modules/.package-lock.json;
    // install again whenever the committed lock file is newer than that.
    let installed = modified(&dir_path.join("node_modules/.package-lock.json"));
    if installed.is_some() && installed >= modified(&lock) {
        return Ok(());
    }
    step(&format!("npm ci in {dir}"));
    let mut cmd = Command::new("npm");
    cmd.args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir_path);
    let shown = format!("{cmd:?}");
    let st = cmd
        .status()
        .with_context(|| format!("cannot start {shown}"))?;
    crate::ensure(st.success(), || format!("{shown} in {dir} failed ({st})"))
}

fn modified(path: &std::path::Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The virtualenv `target/recipes-venv` with the dashboards of the recipe
/// tests (Streamlit, Dash), exactly as `tests/recipes/requirements.txt`
/// pins them; returns its `python`. The venv is made anew (`--clear`) and
/// pip runs only when that file differs from the copy kept in the venv at
/// the last install, so a version dropped from the file is gone too.
pub fn ensure_recipes_venv() -> anyhow::Result<std::path::PathBuf> {
    ensure_python()?;
    let root = crate::root();
    let venv = root.join("target/recipes-venv");
    let python = venv.join("bin/python");
    let requirements = root.join("tests/recipes/requirements.txt");
    let wanted = std::fs::read_to_string(&requirements)
        .with_context(|| format!("cannot read {}", requirements.display()))?;
    let stamp = venv.join("requirements.installed");
    if python.is_file() && std::fs::read_to_string(&stamp).is_ok_and(|s| s == wanted) {
        return Ok(python);
    }
    step("creating target/recipes-venv and installing tests/recipes/requirements.txt (Streamlit, Dash)");
    let mut cmd = Command::new("python3");
    cmd.args(["-m", "venv", "--clear"]).arg(&venv);
    status(cmd).context(
        "python3 -m venv failed: the venv module and ensurepip are needed (apt-get install python3-venv)",
    )?;
    let mut pip = Command::new(&python);
    pip.args([
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--quiet",
        "--requirement",
    ])
    .arg(&requirements);
    status(pip)
        .context("pip could not install the recipe tests' dashboards (PyPI must be reachable)")?;
    std::fs::write(&stamp, wanted).with_context(|| format!("cannot write {}", stamp.display()))?;
    Ok(python)
}

/// `systemd-analyze`, for checking the systemd unit of docs/deploy: found
/// on PATH, else installed with apt-get (package `systemd`) when running as
/// root; `None` when it is missing and cannot be installed here.
pub fn systemd_analyze() -> anyhow::Result<Option<std::path::PathBuf>> {
    let found = || {
        Command::new("systemd-analyze")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if found() {
        return Ok(Some("systemd-analyze".into()));
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !(root && crate::run::has("apt-get")) {
        return Ok(None);
    }
    step("installing systemd-analyze (apt-get install systemd)");
    let mut update = Command::new("apt-get");
    update.arg("update");
    status(update)?;
    let mut install = Command::new("apt-get");
    install
        .args(["install", "-y", "--no-install-recommends", "systemd"])
        .env("DEBIAN_FRONTEND", "noninteractive");
    status(install)?;
    crate::ensure(found(), || {
        "apt-get installed systemd but systemd-analyze does not run".into()
    })?;
    Ok(Some("systemd-analyze".into()))
}
