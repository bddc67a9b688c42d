//! Running child processes loudly: each step is announced, and a failing
//! step fails the task with the command line that failed.

use std::process::Command;

use anyhow::{bail, Context as _};

/// Announces a step.
pub fn step(title: &str) {
    println!("\n==> {title}");
}

/// Runs `cmd` (in the workspace root unless it names a directory) and
/// fails unless it exits 0.
pub fn status(mut cmd: Command) -> anyhow::Result<()> {
    // A step that chose its own directory keeps it.
    if cmd.get_current_dir().is_none() {
        cmd.current_dir(crate::root());
    }
    let shown = format!("{cmd:?}");
    let st = cmd
        .status()
        .with_context(|| format!("cannot start {shown}"))?;
    if !st.success() {
        bail!("{shown} failed ({st})");
    }
    Ok(())
}

/// `cargo <args>` with the cargo that runs xtask.
pub fn cargo(args: &[&str]) -> anyhow::Result<()> {
    status(cargo_cmd(args))
}

/// A `cargo <args>` command, not yet run.
pub fn cargo_cmd(args: &[&str]) -> Command {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(args);
    cmd
}

/// Whether `program` can be started (`program --version` exits 0).
pub fn has(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
