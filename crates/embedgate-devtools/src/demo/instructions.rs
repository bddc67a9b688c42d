//! What `embedgate-dev demo` prints: where the servers are, and what to
//! try, with an example URL signed at that moment. The example URL lives
//! [`EXAMPLE_URL_TTL_SECS`] (10 minutes); [`example`] signs a fresh one
//! whenever the demo is asked (Enter in its terminal).

use anyhow::Context as _;
use zeroize::Zeroizing;

use super::host_app::{tamper, EXAMPLE_URL_TTL_SECS};
use super::DemoStack;
use crate::clock::unix_now;

/// An owner token for the admin console of the demo's store, created now
/// and shown once (as `embedgate serve` does on a store's first start).
pub fn admin_token(s: &DemoStack) -> anyhow::Result<Zeroizing<String>> {
    let key = embedgate_store::MasterKey::from_file(&s.master_key_file)?;
    let store = embedgate_store::Store::open(&s.store_url, key)?;
    let now = i64::try_from(unix_now()).unwrap_or(i64::MAX);
    let created = store
        .create_first_owner_token("demo", "demo", now)?
        .context("the demo store already has an admin token")?;
    Ok(created.value)
}

/// The curl lines of a freshly signed example URL, and its tampered copy.
pub fn example(s: &DemoStack) -> anyhow::Result<String> {
    let url = s.example_url("alice", "acme")?;
    Ok(format!(
        "signed just now, valid for {minutes} minutes:\n\
         \x20      curl -i '{url}'        → 200 the first time, then 403 replayed\n\
         \x20      curl -i '{tampered}'       → 403 bad_signature (eg_sub changed)\n",
        minutes = EXAMPLE_URL_TTL_SECS / 60,
        tampered = tamper(&url),
    ))
}

/// Everything printed when the demo has started.
pub fn banner(s: &DemoStack, admin_token: &str) -> anyhow::Result<String> {
    let admin = s
        .admin
        .map_or_else(|| "(off)".to_owned(), |a| format!("http://{a}"));
    Ok(format!(
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
  2. Replay or tamper, e.g. with curl (press Enter here for a fresh URL), {example}
       curl -i http://localhost:{proxy_port}/api/sales.json                → 401 no_session
  3. Revoke the secret from another terminal (takes effect within 1 s):
       EMBEDGATE_STORE='{store}' EMBEDGATE_MASTER_KEY_FILE='{key_file}' \
         target/debug/embedgate secrets deactivate {kid}
     then reload the page → 403 key_inactive in the iframe; the open dashboard's
     API calls → 403 session_revoked. `… secrets activate {kid}` brings it back.

Enter prints a fresh example URL; Ctrl-C stops the demo and deletes {dir}.
"#,
        host = s.host_page,
        proxy_port = s.proxy.port(),
        backend = s.backend,
        store = s.store_url,
        kid = s.client_id,
        key_file = s.master_key_file.display(),
        example = example(s)?.trim_end(),
        dir = s
            .master_key_file
            .parent()
            .map_or_else(String::new, |d| d.display().to_string()),
    ))
}
