//! `cargo xtask demo`: the live demo. Builds the WebAssembly package (so
//! the admin listener's playground embeds it and works), `embedgate` (the
//! printed revoke command uses it) and `embedgate-dev`, then runs
//! `embedgate-dev demo`: a content backend with a dashboard, the proxy in
//! front of it on a SQLite store in a temporary directory, and a host-app
//! page that embeds the dashboard through a URL it signs on every load.
//! The servers live in `crates/embedgate-devtools/src/demo/`; Enter prints
//! a fresh example URL; Ctrl-C stops them and removes the temporary
//! directory.

use crate::run::{cargo, step};

pub fn run(args: &[String]) -> anyhow::Result<()> {
    if let Some(a) = args.first() {
        anyhow::bail!("cargo xtask demo takes no arguments (got {a:?})");
    }
    // Before the proxy's build: its build script embeds www/playground/pkg.
    crate::wasm::build()?;
    step("building embedgate and embedgate-dev");
    cargo(&[
        "build",
        "-p",
        "embedgate",
        "-p",
        "embedgate-devtools",
        "--locked",
    ])?;
    let bin = crate::root().join("target/debug/embedgate-dev");
    step("starting the demo (Enter: a fresh example URL; Ctrl-C: stop)");
    let mut cmd = std::process::Command::new(&bin);
    cmd.arg("demo").current_dir(crate::root());
    // Become the demo process, so Ctrl-C reaches only it and it can clean up.
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt as _;
        let err = cmd.exec();
        Err(anyhow::anyhow!("cannot start {}: {err}", bin.display()))
    }
    #[cfg(not(unix))]
    {
        crate::run::status(cmd)
    }
}
