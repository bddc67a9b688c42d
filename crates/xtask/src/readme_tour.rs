//! The README's tour as a test: its shell block, taken from README.md as it
//! stands, runs verbatim in `bash -e` from the repository root (it moves to
//! a scratch directory itself), and must serve one signed request through
//! `embedgate serve` and refuse its replay.

use std::io::Read as _;
use std::os::unix::process::CommandExt as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use crate::run::step;

/// What the tour must print: the dashboard's page, reached through the
/// session a signed URL opened, and the refusal of the same URL again.
const EXPECTED: [&str; 2] = ["<h1>Sales</h1>", "{\"error\":\"replayed\"}"];

const TIMEOUT: Duration = Duration::from_secs(240);

pub fn run() -> anyhow::Result<()> {
    step("README tour: its shell block, verbatim, in bash -e");
    let root = crate::root();
    let readme = std::fs::read_to_string(root.join("README.md")).context("reading README.md")?;
    let block = tour_block(&readme)?;
    let mut child = Command::new("bash")
        .args(["-e", "-c", &block])
        .current_dir(&root)
        // Its own process group: whatever the tour leaves running (the
        // proxy, the dashboard) is stopped with it, also on failure.
        .process_group(0)
        .env_remove("EMBEDGATE_SECRET")
        .env_remove("EMBEDGATE_STORE")
        .env_remove("EMBEDGATE_MASTER_KEY_FILE")
        .env_remove("EMBEDGATE_MASTER_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot run bash")?;
    let pgid = child.id();
    let mut stdout = child.stdout.take().context("tour stdout")?;
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        out
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if started.elapsed() > TIMEOUT {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // The group may still hold background jobs of a failed tour.
    let _ = Command::new("kill")
        .args(["-TERM", "--", &format!("-{pgid}")])
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let out = reader.join().unwrap_or_default();
    print!("{out}");
    match status {
        None => bail!("the README tour did not finish within {TIMEOUT:?}"),
        Some(s) if !s.success() => bail!("the README tour failed ({s}); its output is above"),
        Some(_) => {}
    }
    for expected in EXPECTED {
        crate::ensure(out.contains(expected), || {
            format!("the README tour ran but did not print {expected:?}")
        })?;
    }
    println!("xtask: the README tour ran verbatim and served one signed request");
    Ok(())
}

/// The first ```sh block after the heading "## A 5-minute tour".
fn tour_block(readme: &str) -> anyhow::Result<String> {
    let section = readme
        .split_once("## A 5-minute tour")
        .map(|(_, rest)| rest)
        .context("README.md has no \"## A 5-minute tour\" section")?;
    let (_, code) = section
        .split_once("```sh\n")
        .context("the tour section has no ```sh block")?;
    let (block, _) = code
        .split_once("```")
        .context("the tour's ```sh block is not closed")?;
    Ok(block.to_owned())
}

#[cfg(test)]
mod tests {
    use super::tour_block;

    #[test]
    fn finds_the_block_under_the_heading() {
        let md =
            "# x\n```sh\nnot this\n```\n## A 5-minute tour\ntext\n```sh\necho a\necho b\n```\n";
        assert_eq!(tour_block(md).expect("block"), "echo a\necho b\n");
        assert!(tour_block("# nothing").is_err());
    }
}
