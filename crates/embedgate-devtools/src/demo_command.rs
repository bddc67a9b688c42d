//! `embedgate demo` (hidden; run by `cargo xtask demo`): the live demo
//! stack of [`embedgate::demo`] in a temporary directory, until Ctrl-C.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use embedgate::demo::{host_app, DemoStack};

/// Arguments of `embedgate demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {}

pub fn run(_args: DemoArgs) -> anyhow::Result<ExitCode> {
    let dir = std::env::temp_dir().join(format!(
        "embedgate-demo-{}-{}",
        std::process::id(),
        super::clock::unix_now()
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(async {
        let stack = DemoStack::start(&dir).await?;
        let token = demo_admin_token(&stack)?;
        print_instructions(&stack, &token);
        embedgate::serve::shutdown::signal().await;
        println!("\nstopping the demo…");
        stack.stop().await
    });
    let removed = std::fs::remove_dir_all(&dir);
    result?;
    removed.with_context(|| format!("cannot remove {}", dir.display()))?;
    println!("demo stopped; removed {}", dir.display());
    Ok(ExitCode::SUCCESS)
}

/// An owner token for the admin console of the demo's store, created now
/// and shown once (as `embedgate serve` does on a store's first start).
fn demo_admin_token(s: &DemoStack) -> anyhow::Result<zeroize::Zeroizing<String>> {
    let key = embedgate_store::MasterKey::from_file(&s.master_key_file)?;
    let store = embedgate_store::Store::open(&s.store_url, key)?;
    let now = i64::try_from(super::clock::unix_now()).unwrap_or(i64::MAX);
    let created = store
        .create_first_owner_token("demo", "demo", now)?
        .context("the demo store already has an admin token")?;
    Ok(created.value)
}

fn print_instructions(s: &DemoStack, admin_token: &str) {
    let example = s
        .signed_url("alice", "acme")
        .unwrap_or_else(|e| format!("(cannot sign: {e})"));
    let admin = s
        .admin
        .map_or_else(|| "(off)".to_owned(), |a| format!("http://{a}"));
    println!(
        r#"
embedgate demo is running.

  OPEN      {host}
            the host app (your SaaS page): it embeds the dashboard in an iframe
            through an embed URL it signs afresh on every load

  proxy     http://localhost:{proxy_port}   (embedgate serve, plain-http dev cookies)
  admin     {admin}/admin/   (admin console; sign in with the demo's owner token,
            shown this once: {admin_token} )
            {admin}/playground/   (signing playground), /healthz, /readyz, /metrics
  backend   http://{backend}   (the content backend; only the proxy talks to it)
  store     {store}
  secret    client id {kid} (created by the demo; the host app signs in-process)

Try:
  1. Reload the page: a new URL (new nonce) is signed each time, so it keeps working.
  2. Replay or tamper, e.g. with curl (this URL was just signed for you):
       curl -i '{example}'        → 200 the first time, then 403 replayed
       curl -i '{tampered}'       → 403 bad_signature (eg_sub changed)
       curl -i http://localhost:{proxy_port}/api/sales.json                → 401 no_session
  3. Revoke the secret from another terminal (takes effect within 1 s):
       EMBEDGATE_STORE='{store}' EMBEDGATE_MASTER_KEY_FILE='{key_file}' \
         target/debug/embedgate secrets deactivate {kid}
     then reload the page → 403 key_inactive in the iframe; the open dashboard's
     API calls → 403 session_revoked. `… secrets activate {kid}` brings it back.

Ctrl-C stops the demo and deletes {dir}.
"#,
        host = s.host_page,
        proxy_port = s.proxy.port(),
        backend = s.backend,
        store = s.store_url,
        kid = s.client_id,
        key_file = s.master_key_file.display(),
        tampered = host_app::tamper(&example),
        dir = s
            .master_key_file
            .parent()
            .map_or_else(String::new, |d| d.display().to_string()),
    );
}
