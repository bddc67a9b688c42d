//! `cargo xtask demo`: for now, sign a URL with a demo key and verify it,
//! through the real `embedgate` binary.

use std::process::Command;

use anyhow::Context as _;

use crate::run::{cargo, step};

/// A demo key: not a secret, printed on purpose.
const DEMO_KID: &str = "ek_demo";
const DEMO_SECRET: &str = "DemoSecretDemoSecretDemoSecret00";

pub fn run(args: &[String]) -> anyhow::Result<()> {
    if let Some(a) = args.first() {
        anyhow::bail!("cargo xtask demo takes no arguments (got {a:?})");
    }
    step("building embedgate");
    cargo(&["build", "-p", "embedgate", "--locked"])?;
    let bin = crate::root().join("target/debug/embedgate");

    step("signing https://embed.example.com/d/sales?orgId=1 for user-42 with the demo key");
    let out = Command::new(&bin)
        .args([
            "sign",
            "https://embed.example.com/d/sales?orgId=1",
            "--kid",
            DEMO_KID,
            "--sub",
            "user-42",
            "--attr",
            "tenant=acme",
            "--session",
            "1800",
        ])
        .env("EMBEDGATE_SECRET", DEMO_SECRET)
        .output()
        .context("cannot run embedgate sign")?;
    crate::ensure(out.status.success(), || {
        format!(
            "embedgate sign failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    let url = String::from_utf8(out.stdout)?.trim().to_owned();
    println!("{url}");

    step("verifying it with `embedgate verify`");
    let dir = std::env::temp_dir().join(format!("embedgate-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let keys = dir.join("keys.json");
    std::fs::write(
        &keys,
        format!(r#"{{"{DEMO_KID}": {{"secret": "{DEMO_SECRET}", "active": true}}}}"#),
    )?;
    let st = Command::new(&bin)
        .args(["verify", &url, "--keys"])
        .arg(&keys)
        .status()
        .context("cannot run embedgate verify")?;
    let _ = std::fs::remove_dir_all(&dir);
    crate::ensure(st.success(), || "the demo URL did not verify".into())?;
    println!("\ndemo: the signed URL verified. Try tampering with it: change orgId=1 to orgId=2 and run `embedgate verify` again.");
    Ok(())
}
