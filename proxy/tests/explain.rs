//! `embedgate explain <URL>`: each reason against a real store, the string
//! to sign, what to check; the secret never printed.
#![allow(clippy::unwrap_used)]

mod support;

use std::process::{Command, Output, Stdio};

use embedgate_store::Lookup;
use support::*;

fn explain(store: &TestStore, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_embedgate"));
    for (k, _) in std::env::vars() {
        if k.starts_with("EMBEDGATE_") {
            c.env_remove(k);
        }
    }
    c.arg("explain")
        .args(args)
        .env("EMBEDGATE_STORE", &store.url)
        .env("EMBEDGATE_MASTER_KEY_FILE", &store.key_file)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn out(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", out(o)))
}

/// The absolute URL the browser would load.
fn absolute(origin_form: &str) -> String {
    format!("https://{HOST}{origin_form}")
}

#[test]
fn each_reason_is_explained_without_the_secret() {
    let store = TestStore::new();
    let (kid, secret) = store.create_secret("app", &[]);
    let now = now();
    let url = absolute(&sign_with(
        &kid,
        &secret,
        "/d/x?a=1",
        "alice",
        &[],
        now + 300,
        &nonce(),
    ));
    let mut seen = Vec::new();

    // ok: exit 0, the user and the string to sign.
    let o = explain(&store, &[&url]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let text = out(&o);
    assert!(text.starts_with("result:  ok"), "{text}");
    assert!(
        text.contains("string to sign") && text.contains("EG1-HMAC-SHA256"),
        "{text}"
    );
    assert!(
        text.contains("\"alice\"") && text.contains("replayed"),
        "{text}"
    );
    seen.push(text);

    // bad_signature: a parameter changed after signing.
    let tampered = url.replace("a=1", "a=2");
    let o = explain(&store, &[&tampered, "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let v = json(&o);
    assert_eq!(v["result"], "bad_signature");
    assert_eq!(v["kid"], kid.as_str());
    assert_eq!(v["secret"]["name"], "app");
    assert!(
        v["string_to_sign"].as_str().unwrap().contains("\na=2&"),
        "{v}"
    );
    let checks = v["checks"].to_string();
    assert!(checks.contains("host") && checks.contains(HOST), "{checks}");
    seen.push(out(&o));

    // The host the proxy sees: signed for embed.test, reached as internal:8443.
    let internal = url.replace(HOST, "internal:8443");
    let o = explain(&store, &[&internal]);
    assert_eq!(o.status.code(), Some(1));
    let text = out(&o);
    assert!(
        text.contains("result:  bad_signature") && text.contains("host:    internal:8443"),
        "{text}"
    );
    seen.push(text);
    // ...which verify.public_host (here --public-host) sets right.
    let o = explain(&store, &[&internal, "--public-host", HOST]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(out(&o).contains("verify.public_host"));
    seen.push(out(&o));

    // expired: judged an hour later; the check names the clock.
    let later = (now + 3600).to_string();
    let o = explain(&store, &[&url, "--now", &later]);
    assert_eq!(o.status.code(), Some(1));
    let text = out(&o);
    assert!(
        text.contains("result:  expired") && text.contains("clock"),
        "{text}"
    );
    seen.push(text);
    // exp_too_far: judged an hour earlier.
    let earlier = (now - 3600).to_string();
    let o = explain(&store, &[&url, "--now", &earlier, "--json"]);
    assert_eq!(json(&o)["result"], "exp_too_far");
    seen.push(out(&o));

    // malformed: a URL cut at an unquoted &.
    let cut = url.split("&eg_sub").next().unwrap().to_owned();
    let o = explain(&store, &[&cut]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        out(&o).contains("result:  malformed") && out(&o).contains("quote"),
        "{}",
        out(&o)
    );

    // key_inactive, then unknown_key once deleted (the history says so).
    store
        .store
        .deactivate_embed_secret(&Lookup::client_id(&kid), "ops", now as i64)
        .unwrap();
    let o = explain(&store, &[&url]);
    let text = out(&o);
    assert!(
        text.contains("result:  key_inactive") && text.contains("deactivated"),
        "{text}"
    );
    seen.push(text);
    store
        .store
        .delete_embed_secret(&Lookup::client_id(&kid), "ops", now as i64)
        .unwrap();
    let o = explain(&store, &[&url, "--json"]);
    let v = json(&o);
    assert_eq!(v["result"], "unknown_key");
    assert!(v["checks"].to_string().contains("delete"), "{v}");
    seen.push(out(&o));

    // Neither the secret nor the signature it would give the tampered URL
    // (which would make that URL valid) is ever printed.
    let forged = embedgate_core::EmbedKey::new(secret.as_bytes())
        .signature_for(&embedgate_core::string_to_sign(&tampered).unwrap());
    for s in &seen {
        assert!(!s.contains(&secret), "the secret was printed:\n{s}");
        assert!(!s.contains(&forged), "a valid signature was printed:\n{s}");
    }
}

#[test]
fn out_of_scope_and_the_policy_from_the_config() {
    let store = TestStore::new();
    let (kid, secret) = store.create_secret("sales", &["/d/sales"]);
    let now = now();
    let url = sign_with(&kid, &secret, "/d/other", "bob", &[], now + 300, &nonce());
    // Origin-form needs a host: --public-host.
    let o = explain(&store, &[&url, "--public-host", HOST]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let text = out(&o);
    assert!(
        text.contains("result:  out_of_scope") && text.contains("/d/sales"),
        "{text}"
    );
    let o = explain(&store, &[&url]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));

    // --config: store, key, public host and skew from embedgate.toml.
    let backend_addr = "127.0.0.1:9";
    let config = store.dir.path().join("embedgate.toml");
    std::fs::write(
        &config,
        format!(
            "[store]\nurl = \"{}\"\nmaster_key_file = \"{}\"\n[verify]\npublic_host = \"{HOST}\"\nskew = 0\n[[routes]]\nprefix = \"/d/\"\nupstream = \"http://{backend_addr}\"\n",
            store.url,
            store.key_file.display()
        ),
    )
    .unwrap();
    let ok_url = sign_with(&kid, &secret, "/d/sales/q", "bob", &[], now + 300, &nonce());
    let mut c = Command::new(env!("CARGO_BIN_EXE_embedgate"));
    for (k, _) in std::env::vars() {
        if k.starts_with("EMBEDGATE_") {
            c.env_remove(k);
        }
    }
    let just_after = (now + 301).to_string();
    let o = c
        .args([
            "explain",
            &ok_url,
            "--json",
            "--now",
            &just_after,
            "--config",
        ])
        .arg(&config)
        .output()
        .unwrap();
    let v = json(&o);
    // One second past eg_exp with skew 0 (from the config) is expired.
    assert_eq!(v["result"], "expired", "{v}");
    assert_eq!(v["policy"]["skew"], 0);
    assert_eq!(v["host_from"], "verify.public_host");
}

/// The embed SDK's session URLs (`/.embedgate/open`, `/renew`) are judged
/// as the proxy judges them: the secret's scopes apply to the dashboard
/// path they name, not to the session path.
#[test]
fn session_urls_of_the_embed_sdk_are_scoped_on_the_path_they_name() {
    let store = TestStore::new();
    let (kid, secret) = store.create_secret("sales-only", &["/d/sales"]);
    let now = now();
    let session_url = |path: &str| {
        let query = format!("origin=https%3A%2F%2Fapp.example&path={path}");
        absolute(&sign_with(
            &kid,
            &secret,
            &format!("/.embedgate/open?{query}"),
            "alice",
            &[],
            now + 300,
            &nonce(),
        ))
    };
    let o = explain(&store, &[&session_url("%2Fd%2Fsales%2Fq1"), "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert_eq!(json(&o)["result"], "ok");
    let o = explain(&store, &[&session_url("%2Fd%2Fother"), "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert_eq!(json(&o)["result"], "out_of_scope", "{}", out(&o));
    // A plain URL under the scope, and outside it.
    let plain = |path: &str| {
        absolute(&sign_with(
            &kid,
            &secret,
            path,
            "alice",
            &[],
            now + 300,
            &nonce(),
        ))
    };
    assert_eq!(
        json(&explain(&store, &[&plain("/d/sales"), "--json"]))["result"],
        "ok"
    );
    assert_eq!(
        json(&explain(&store, &[&plain("/d/other"), "--json"]))["result"],
        "out_of_scope"
    );
}
