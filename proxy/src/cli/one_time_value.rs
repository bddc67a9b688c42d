//! Where a value shown only once (an embed secret's value, an admin token)
//! may go. The rule, the same for every command:
//!
//! - on a terminal it is printed, for a person to copy;
//! - into a pipe or a file only when asked for with `--json` (a script
//!   capturing it on purpose); otherwise the command refuses *before*
//!   creating anything, so no value is lost and none lands in a log that
//!   happened to capture stdout;
//! - `embedgate serve` writes the first admin token to a file of its own
//!   (mode 0600) and prints the file's path, never the token.

use std::io::{IsTerminal as _, Write as _};
use std::path::Path;

use anyhow::{bail, Context as _};

/// Whether stdout is a terminal.
pub fn stdout_is_terminal() -> bool {
    std::io::stdout().is_terminal()
}

/// Refuses to go on when `what` would be printed into a pipe or file
/// without `--json`.
pub fn ensure_may_show(json: bool, what: &str) -> anyhow::Result<()> {
    if json || stdout_is_terminal() {
        return Ok(());
    }
    bail!(
        "stdout is not a terminal: {what} is shown once and would go into a pipe or file; \
pass --json to capture it there on purpose (nothing was created)"
    )
}

/// Writes `value` to `path`, readable by its owner only (0600), replacing
/// the file atomically (a reader never sees half a value).
pub fn write_private_file(path: &Path, value: &str) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .context("the token file needs a file name")?;
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = (|| -> std::io::Result<()> {
        let mut f = options.open(&tmp)?;
        f.write_all(value.as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write {}", path.display()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_files_are_0600_and_replaced_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("owner-token");
        write_private_file(&path, "first").expect("written");
        write_private_file(&path, "second").expect("replaced");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "second\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 1);
    }
}
