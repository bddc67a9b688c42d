//! The store commands of the `embedgate` binary, run as a user would: real
//! files, real processes, real `kill -9`.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use embedgate_store::{Lookup, MasterKey, NewCredential, NewEmbedSecret, Store};
use rand::Rng as _;

fn embedgate(store_url: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_embedgate"));
    for v in [
        "EMBEDGATE_MASTER_KEY",
        "EMBEDGATE_MASTER_KEY_FILE",
        "EMBEDGATE_STORE",
        "EMBEDGATE_SECRET",
    ] {
        c.env_remove(v);
    }
    c.env("USER", "tester").env("EMBEDGATE_STORE", store_url);
    c
}

fn run(mut c: Command, stdin: Option<&str>) -> Output {
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn embedgate");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(s) = stdin {
        // A command refused before it reads stdin may already be gone.
        match input.write_all(s.as_bytes()) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("write stdin: {e}"),
            _ => {}
        }
    }
    drop(input);
    child.wait_with_output().expect("wait")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs a command that must succeed; returns stdout + stderr.
fn ok(c: Command, stdin: Option<&str>) -> String {
    let o = run(c, stdin);
    assert!(o.status.success(), "command failed: {}", text(&o));
    text(&o)
}

/// Runs a command that must fail with one clear line; returns stdout + stderr.
fn fails(c: Command, stdin: Option<&str>) -> String {
    let o = run(c, stdin);
    assert!(!o.status.success(), "command succeeded: {}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "not one line: {err}");
    assert!(err.starts_with("error: "), "{err}");
    text(&o)
}

fn with(store_url: &str, key_file: &Path, args: &[&str]) -> Command {
    let mut c = embedgate(store_url);
    c.args(args);
    c.arg("--master-key-file").arg(key_file);
    c
}

#[test]
fn cli_flows_never_print_a_secret_value_except_once_at_creation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("store.db").display());
    let key = dir.path().join("master.key");
    let mut outputs: Vec<String> = Vec::new();

    let mut init = embedgate(&url);
    init.args(["store", "init", "--create-key-file", "--master-key-file"])
        .arg(&key);
    outputs.push(ok(init, None));

    let created = ok(
        with(
            &url,
            &key,
            &[
                "secrets",
                "create",
                "--name",
                "canary-app",
                "--description",
                "Canary dashboards",
                "--environment",
                "production",
                "--scope",
                "/d/canary",
                "--expires-at",
                "2099-01-01T00:00:00Z",
                "--json",
            ],
        ),
        None,
    );
    let json: serde_json::Value =
        serde_json::from_str(created.trim()).expect("create --json is JSON");
    let value = json["value"].as_str().expect("value").to_owned();
    let client_id = json["secret"]["client_id"]
        .as_str()
        .expect("client id")
        .to_owned();
    assert_eq!(value.len(), 32);
    assert!(client_id.starts_with("ek_"));

    // Into a pipe (as here) the text output refuses, creating nothing: the
    // value goes into a pipe only when asked for with --json.
    let refused = fails(
        with(&url, &key, &["secrets", "create", "--name", "second"]),
        None,
    );
    assert!(refused.contains("--json"), "{refused}");
    let created_second = ok(
        with(
            &url,
            &key,
            &["secrets", "create", "--name", "second", "--json"],
        ),
        None,
    );
    let second: serde_json::Value =
        serde_json::from_str(created_second.trim()).expect("create --json is JSON");
    let second_value = second["value"].as_str().expect("value").to_owned();
    assert_eq!(second_value.len(), 32);

    let cred = "CANARY-credential-7f3a9b2c4d5e6f708192a3b4c5d6e7f8";
    outputs.push(ok(
        with(
            &url,
            &key,
            &[
                "credentials",
                "put",
                "--name",
                "upstream",
                "--token-type",
                "api_key",
            ],
        ),
        Some(&format!("{cred}\n")),
    ));
    outputs.push(ok(
        with(
            &url,
            &key,
            &[
                "credentials",
                "put",
                "--name",
                "upstream",
                "--issuer",
                "grafana",
            ],
        ),
        Some(&format!("{cred}-v2")),
    ));

    for args in [
        &["secrets", "list"][..],
        &["secrets", "list", "--json"],
        &["secrets", "list", "--search", "CANARY"],
        &["secrets", "show", "canary-app"],
        &["secrets", "show", &client_id, "--json"],
        &["secrets", "rename", "canary-app", "canary-2"],
        &[
            "secrets",
            "describe",
            "canary-2",
            "--description",
            "renamed",
            "--no-expiry",
        ],
        &["secrets", "deactivate", "canary-2"],
        &["secrets", "activate", &client_id],
        &["secrets", "history", "canary-2"],
        &["secrets", "history", "canary-2", "--json"],
        &["credentials", "list"],
        &["credentials", "list", "--json"],
        &["credentials", "show", "upstream"],
        &["credentials", "show", "upstream", "--json"],
        &["credentials", "history", "upstream", "--json"],
        &["store", "audit"],
        &["store", "audit", "--json"],
        &["store", "purge-expired"],
        &["secrets", "delete", "second", "--yes"],
        &["secrets", "history", "second"],
    ] {
        outputs.push(ok(with(&url, &key, args), None));
    }
    let listed = ok(with(&url, &key, &["secrets", "list"]), None);
    assert!(listed.contains("canary-2") && listed.contains(&value[..4]));
    assert!(!listed.contains("second"));
    outputs.push(listed);

    // Failures: one clear line, non-zero exit, no value.
    outputs.push(fails(
        with(
            &url,
            &key,
            &["secrets", "create", "--name", "canary-2", "--json"],
        ),
        None,
    ));
    outputs.push(fails(
        with(&url, &key, &["secrets", "activate", "nope"]),
        None,
    ));
    outputs.push(fails(
        with(&url, &key, &["secrets", "delete", "canary-2"]),
        None,
    ));
    outputs.push(fails(
        with(&url, &key, &["credentials", "put", "--name", "x"]),
        Some(""),
    ));
    outputs.push(fails(
        with(
            &url,
            &key,
            &["credentials", "put", "--name", "x", "--token-type", "bogus"],
        ),
        Some(cred),
    ));
    let mut wrong = embedgate(&url);
    wrong
        .env(
            "EMBEDGATE_MASTER_KEY",
            MasterKey::generate().to_base64().as_str(),
        )
        .args(["secrets", "list"]);
    let wrong_out = fails(wrong, None);
    assert!(wrong_out.contains("wrong master key"), "{wrong_out}");
    outputs.push(wrong_out);
    let mut no_store = Command::new(env!("CARGO_BIN_EXE_embedgate"));
    no_store
        .env_remove("EMBEDGATE_STORE")
        .args(["secrets", "list"]);
    outputs.push(fails(no_store, None));

    let new_key = dir.path().join("new.key");
    let new_key_arg = new_key.to_str().expect("utf-8 temp path");
    let rotate = with(
        &url,
        &key,
        &[
            "store",
            "rotate-master-key",
            "--generate",
            "--new-key-file",
            new_key_arg,
        ],
    );
    outputs.push(ok(rotate, None));
    outputs.push(ok(
        with(&url, &new_key, &["secrets", "show", "canary-2"]),
        None,
    ));
    outputs.push(fails(
        with(&url, &key, &["secrets", "show", "canary-2"]),
        None,
    ));

    for (i, out) in outputs.iter().enumerate() {
        for secret in [value.as_str(), second_value.as_str(), cred] {
            assert!(!out.contains(secret), "output {i} leaks a value:\n{out}");
        }
    }
    // The values are really there (the scan above is meaningful).
    let store = Store::open(&url, MasterKey::from_file(&new_key).expect("key")).expect("open");
    assert_eq!(
        store
            .reveal_embed_secret_value(&Lookup::any("canary-2"))
            .expect("value")
            .as_str(),
        value
    );
    assert_eq!(
        store
            .credential_value("upstream")
            .expect("cred")
            .as_deref()
            .map(String::as_str),
        Some(format!("{cred}-v2").as_str())
    );
}

#[test]
fn kill_9_during_rotate_master_key_then_rerun_leaves_every_secret_readable() {
    const ROWS: usize = 800;
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("store.db").display());
    let mut key = MasterKey::generate();
    let mut values = Vec::with_capacity(ROWS + 10);
    {
        let store = Store::open(&url, key.clone()).expect("open");
        for i in 0..ROWS {
            let c = store
                .create_embed_secret(
                    &NewEmbedSecret {
                        name: format!("s{i}"),
                        ..NewEmbedSecret::default()
                    },
                    "setup",
                    1_700_000_000,
                )
                .expect("create");
            values.push((c.secret.id.clone(), c.value.to_string()));
        }
        for i in 0..10 {
            let v = format!("credential-{i}-abcdefghijklmnop");
            let c = store
                .create_credential(
                    &NewCredential {
                        name: format!("c{i}"),
                        ..NewCredential::default()
                    },
                    &v,
                    "setup",
                    1_700_000_000,
                )
                .expect("credential");
            values.push((c.id, v));
        }
    }
    let mut rng = rand::thread_rng();
    for round in 0..5 {
        let new_path = dir.path().join(format!("key{round}"));
        let new_key = MasterKey::generate_to_file(&new_path).expect("new key");
        let rotate = || {
            let mut c = embedgate(&url);
            c.env("EMBEDGATE_MASTER_KEY", key.to_base64().as_str())
                .args(["store", "rotate-master-key", "--new-key-file"])
                .arg(&new_path)
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            c
        };
        let mut child = rotate().spawn().expect("spawn");
        // Spread the kill over start-up, the re-encryption and the commit.
        std::thread::sleep(Duration::from_millis(rng.gen_range(0..80)));
        let _ = child.kill(); // SIGKILL; it may have finished already.
        let _ = child.wait().expect("reap");

        let o = run(rotate(), None);
        assert!(o.status.success(), "re-run failed: {}", text(&o));

        let store = Store::open(&url, new_key.clone()).expect("opens with the new key");
        for (id, v) in &values {
            let got = if id.starts_with("cred_") {
                let name = store.get_credential(&Lookup::id(id)).expect("meta").name;
                store
                    .credential_value_at(&name, 1_700_000_001)
                    .expect("cred value")
                    .expect("present")
            } else {
                store
                    .reveal_embed_secret_value(&Lookup::id(id))
                    .expect("embed value")
            };
            assert_eq!(got.as_str(), v, "round {round}: {id} changed");
        }
        assert_eq!(
            Store::open(&url, key.clone()).expect_err("old key").code(),
            "wrong_master_key"
        );
        key = new_key;
    }
}

#[test]
fn store_verify_names_every_damaged_row_and_exits_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store.db");
    let url = format!("sqlite://{}", path.display());
    let key_file = dir.path().join("master.key");
    let key = MasterKey::generate_to_file(&key_file).expect("key");
    let (a, b, cred) = {
        let store = Store::open(&url, key).expect("open");
        let create = |name: &str| {
            store
                .create_embed_secret(
                    &NewEmbedSecret {
                        name: name.into(),
                        ..NewEmbedSecret::default()
                    },
                    "setup",
                    1_700_000_000,
                )
                .expect("create")
        };
        let (a, b) = (create("alpha"), create("bravo"));
        let cred = store
            .create_credential(
                &NewCredential {
                    name: "grafana".into(),
                    ..NewCredential::default()
                },
                "credential-value",
                "setup",
                1_700_000_000,
            )
            .expect("credential");
        (a, b, cred)
    };
    let verify = || with(&url, &key_file, &["store", "verify"]);
    let healthy = ok(verify(), None);
    assert!(
        healthy.contains("3 sealed value(s): 0 unreadable"),
        "{healthy}"
    );

    // b gets a's ciphertext, the credential a flipped byte.
    let c = rusqlite::Connection::open(&path).expect("raw");
    c.execute(
        "UPDATE secrets SET (nonce, ciphertext) = \
         (SELECT nonce, ciphertext FROM secrets WHERE id = ?1) WHERE id = ?2",
        [&a.secret.id, &b.secret.id],
    )
    .expect("copy");
    c.execute(
        "UPDATE secrets SET ciphertext = CAST(zeroblob(40) AS BLOB) WHERE id = ?1",
        [&cred.id],
    )
    .expect("flip");
    drop(c);

    let o = run(verify(), None);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let bad: Vec<&str> = out.lines().filter(|l| l.starts_with("BAD ")).collect();
    assert_eq!(bad.len(), 2, "{out}");
    assert!(
        bad.iter().any(|l| l.contains(&b.secret.id)
            && l.contains("embed_secret")
            && l.contains("\"bravo\"")),
        "{out}"
    );
    assert!(
        bad.iter()
            .any(|l| l.contains(&cred.id) && l.contains("credential") && l.contains("\"grafana\"")),
        "{out}"
    );
    assert!(!out.contains(&a.secret.id), "a is fine: {out}");
    assert!(out.contains("2 unreadable"), "{out}");
    for v in [a.value.as_str(), b.value.as_str(), "credential-value"] {
        assert!(!text(&o).contains(v), "a value was printed");
    }
    // --json: the same, for machines.
    let o = run(with(&url, &key_file, &["store", "verify", "--json"]), None);
    assert_eq!(o.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(report["rows_checked"], 3);
    assert_eq!(report["unreadable"].as_array().map(Vec::len), Some(2));
    assert_eq!(report["unreadable"][0]["error"], "decrypt_failed");

    // A wrong key fails before any row, as one clear line.
    let wrong = dir.path().join("wrong.key");
    MasterKey::generate_to_file(&wrong).expect("wrong key");
    let err = fails(with(&url, &wrong, &["store", "verify"]), None);
    assert!(err.contains("wrong master key"), "{err}");
}
