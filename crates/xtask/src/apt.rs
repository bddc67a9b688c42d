//! Installing Debian packages a task needs, when it runs as root on a
//! machine with apt-get; elsewhere the task says what to install.

use std::process::Command;

use crate::run::{status, step};

/// Whether this process runs as root.
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Whether [`install`] can work here.
pub fn can_install() -> bool {
    is_root() && crate::run::has("apt-get")
}

/// `apt-get install -y --no-install-recommends PACKAGES`, after an
/// `apt-get update` when the package lists are missing or stale (the first
/// try failed).
pub fn install(packages: &[&str]) -> anyhow::Result<()> {
    step(&format!("installing {} (apt-get)", packages.join(", ")));
    let install = || {
        let mut cmd = Command::new("apt-get");
        cmd.args(["install", "-y", "--no-install-recommends"])
            .args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive");
        cmd
    };
    if status(install()).is_ok() {
        return Ok(());
    }
    let mut update = Command::new("apt-get");
    update.arg("update");
    status(update)?;
    status(install())
}
