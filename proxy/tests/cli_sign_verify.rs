//! `embedgate sign` and `embedgate verify` as a user runs them: real
//! processes, real files, exit codes and JSON output.

use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_embedgate");
const KID: &str = "ek_live_4f9c2a";
const SECRET: &str = "q7Vt2mXc9LpR4sZb8NwK3yHd6FgJ1aEo";
const VECTORS: &str = include_str!("../../tests/vectors/embed-url-v1.json");

fn run(args: &[&str], secret: Option<&str>) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env_remove("EMBEDGATE_SECRET");
    if let Some(s) = secret {
        cmd.env("EMBEDGATE_SECRET", s);
    }
    cmd.output().expect("runs embedgate")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn keys_file(dir: &tempfile::TempDir) -> String {
    let v: serde_json::Value = serde_json::from_str(VECTORS).expect("vectors");
    let path = dir.path().join("keys.json");
    std::fs::write(&path, v["keys"].to_string()).expect("write keys");
    path.to_string_lossy().into_owned()
}

#[test]
fn sign_reproduces_the_vector_signature() {
    let o = run(
        &[
            "sign",
            "https://embed.example.com/d/sales?orgId=1",
            "--kid",
            KID,
            "--sub",
            "user-42",
            "--exp",
            "1767225300",
            "--nonce",
            "Yc1mB0sD7rX2aQ9vT4kL",
        ],
        Some(SECRET),
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        out.trim()
            .ends_with("&eg_sig=YE0QgQeZFo_Q-0AbKve-pAg8sT4vbKKpQiTebT5SVgw"),
        "{out}"
    );
    assert!(!out.contains(SECRET) && !err.contains(SECRET));
}

#[test]
fn sign_reads_the_secret_from_a_file_and_never_from_an_argument() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("secret");
    std::fs::write(&file, format!("{SECRET}\n")).expect("write");
    let file = file.to_string_lossy().into_owned();
    let o = run(
        &[
            "sign",
            "https://embed.example.com/d/sales?orgId=1",
            "--kid",
            KID,
            "--sub",
            "user-42",
            "--exp",
            "1767225300",
            "--nonce",
            "Yc1mB0sD7rX2aQ9vT4kL",
            "--secret-file",
            &file,
        ],
        None,
    );
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(text(&o)
        .0
        .contains("eg_sig=YE0QgQeZFo_Q-0AbKve-pAg8sT4vbKKpQiTebT5SVgw"));

    // No secret anywhere: a clear error.
    let o = run(&["sign", "https://h/d", "--kid", KID, "--sub", "u"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("EMBEDGATE_SECRET"), "{:?}", text(&o));
    // There is no --secret flag at all: usage error (exit 2).
    let o = run(
        &[
            "sign",
            "https://h/d",
            "--kid",
            KID,
            "--sub",
            "u",
            "--secret",
            SECRET,
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn sign_defaults_ttl_and_generates_nonces() {
    let a = text(&run(
        &["sign", "https://h/d", "--kid", KID, "--sub", "u"],
        Some(SECRET),
    ))
    .0;
    let b = text(&run(
        &["sign", "https://h/d", "--kid", KID, "--sub", "u"],
        Some(SECRET),
    ))
    .0;
    let nonce = |u: &str| {
        u.split("eg_nonce=")
            .nth(1)
            .and_then(|s| s.split('&').next())
            .map(str::to_owned)
    };
    assert_ne!(nonce(&a), nonce(&b), "each URL needs its own nonce");
    let exp: u64 = a
        .split("eg_exp=")
        .nth(1)
        .and_then(|s| s.split('&').next())
        .expect("exp")
        .parse()
        .expect("number");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    assert!(
        (now + 290..=now + 310).contains(&exp),
        "default TTL is 300 s: exp {exp}, now {now}"
    );
}

#[test]
fn sign_rejects_bad_input_with_a_clear_reason() {
    for (args, needle) in [
        (
            vec!["sign", "https://h/d/../x", "--kid", KID, "--sub", "u"],
            "dot segment",
        ),
        (
            vec!["sign", "https://h/d", "--kid", "bad kid", "--sub", "u"],
            "eg_kid",
        ),
        (
            vec![
                "sign",
                "https://h/d",
                "--kid",
                KID,
                "--sub",
                "u",
                "--attr",
                "Tenant=x",
            ],
            "attribute name",
        ),
        (
            vec![
                "sign",
                "https://h/d",
                "--kid",
                KID,
                "--sub",
                "u",
                "--attr",
                "novalue",
            ],
            "NAME=VALUE",
        ),
        (
            vec!["sign", "https://h/d?eg_kid=x", "--kid", KID, "--sub", "u"],
            "eg_",
        ),
    ] {
        let o = run(&args, Some(SECRET));
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains(SECRET));
    }
}

#[test]
fn verify_prints_json_and_exits_by_verdict() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = keys_file(&dir);
    let v: serde_json::Value = serde_json::from_str(VECTORS).expect("vectors");
    for case in v["cases"].as_array().expect("cases") {
        let url = case["url"].as_str().expect("url");
        let now = case["now"].to_string();
        let o = run(&["verify", url, "--keys", &keys, "--now", &now], None);
        let (out, err) = text(&o);
        let json: serde_json::Value =
            serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{out} {err}: {e}"));
        assert_eq!(json["result"], case["expect"], "{}", case["name"]);
        let expect_ok = case["expect"] == "ok";
        assert_eq!(
            o.status.code(),
            Some(if expect_ok { 0 } else { 1 }),
            "{}",
            case["name"]
        );
        if let Some(sts) = case.get("string_to_sign") {
            assert_eq!(&json["string_to_sign"], sts, "{}", case["name"]);
        }
        if expect_ok {
            assert!(json["sub"].as_str().is_some());
            assert!(json["forward"].as_str().expect("forward").starts_with('/'));
        }
        assert!(
            !out.contains("q7Vt2mXc9LpR4sZb8NwK3yHd6FgJ1aEo"),
            "a secret leaked into the output"
        );
    }
}

#[test]
fn verify_usage_errors_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nope.json").to_string_lossy().into_owned();
    let o = run(&["verify", "https://h/d", "--keys", &missing], None);
    assert_eq!(o.status.code(), Some(2));
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"k": {"secret": "SuperSecretValue1234", "activ": true}}"#,
    )
    .expect("write");
    let o = run(
        &["verify", "https://h/d", "--keys", &bad.to_string_lossy()],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        !text(&o).1.contains("SuperSecretValue1234"),
        "{:?}",
        text(&o)
    );
    let o = run(&["verify", "https://h/d"], None);
    assert_eq!(o.status.code(), Some(2), "missing --keys is a usage error");
}

#[test]
fn every_command_has_help() {
    for args in [
        vec!["--help"],
        vec!["sign", "--help"],
        vec!["verify", "--help"],
    ] {
        let o = run(&args, None);
        assert!(o.status.success(), "{args:?}");
        assert!(text(&o).0.contains("Usage:"), "{args:?}");
    }
}
