//! EGJ1 through `embedgate sign --jwt` and `embedgate verify`, as a user
//! runs them: real processes, real files, exit codes and JSON output.

use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_embedgate");
const VECTORS: &str = include_str!("../../tests/vectors/embed-jwt-v1.json");

fn vectors() -> serde_json::Value {
    serde_json::from_str(VECTORS).expect("vectors")
}

fn run(args: &[&str], secret: Option<&str>) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env_remove("EMBEDGATE_SECRET");
    if let Some(s) = secret {
        cmd.env("EMBEDGATE_SECRET", s);
    }
    cmd.output().expect("runs embedgate")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn keys_file(dir: &tempfile::TempDir) -> String {
    let path = dir.path().join("keys.json");
    std::fs::write(&path, vectors()["keys"].to_string()).expect("write keys");
    path.to_string_lossy().into_owned()
}

fn verify(url: &str, keys: &str, now: &str) -> (Option<i32>, serde_json::Value) {
    let o = run(&["verify", url, "--keys", keys, "--now", now], None);
    let out = stdout(&o);
    let json = serde_json::from_str(out.trim()).unwrap_or_else(|e| {
        panic!("{out} {}: {e}", String::from_utf8_lossy(&o.stderr));
    });
    (o.status.code(), json)
}

#[test]
fn verify_gives_every_egj1_vector_its_verdict_and_forward() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = keys_file(&dir);
    let v = vectors();
    let secrets: Vec<String> = v["keys"]
        .as_object()
        .expect("keys")
        .values()
        .map(|k| k["secret"].as_str().expect("secret").to_owned())
        .collect();
    for case in v["cases"].as_array().expect("cases") {
        let name = case["name"].as_str().expect("name");
        let url = case["url"].as_str().expect("url");
        let (code, json) = verify(url, &keys, &case["now"].to_string());
        assert_eq!(json["result"], case["expect"], "{name}: {json}");
        let ok = case["expect"] == "ok";
        assert_eq!(code, Some(if ok { 0 } else { 1 }), "{name}");
        if ok {
            assert_eq!(json["scheme"], "EGJ1", "{name}");
            assert_eq!(json["forward"], case["forward"], "{name}");
            let token = url.split_once("eg_jwt=").expect("token").1;
            let signing_input = token.rsplit_once('.').expect("three parts").0;
            assert_eq!(json["string_to_sign"], signing_input, "{name}");
        }
        let text = json.to_string();
        assert!(
            secrets.iter().all(|s| !text.contains(s.as_str())),
            "a secret leaked"
        );
    }
}

#[test]
fn sign_jwt_reproduces_the_vector_and_verifies() {
    let v = vectors();
    let basic = v["cases"][0]["url"].as_str().expect("url");
    let secret = v["keys"]["ek_live_4f9c2a"]["secret"]
        .as_str()
        .expect("secret");
    let o = run(
        &[
            "sign",
            "--jwt",
            "https://embed.example.com/d/sales?orgId=1",
            "--kid",
            "ek_live_4f9c2a",
            "--sub",
            "user-42",
            "--exp",
            "1767225300",
            "--nonce",
            "Yc1mB0sD7rX2aQ9vT4kL",
        ],
        Some(secret),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(stdout(&o).trim(), basic);

    // With session and attributes, then verified by the CLI.
    let o = run(
        &[
            "sign",
            "--jwt",
            "https://embed.example.com/d/sales?var-region=emea&orgId=1&var-region=apac",
            "--kid",
            "ek_live_4f9c2a",
            "--sub",
            "ana maria",
            "--ttl",
            "120",
            "--session",
            "900",
            "--attr",
            "tenant=acme",
        ],
        Some(secret),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let url = stdout(&o).trim().to_owned();
    assert!(
        url.starts_with("https://embed.example.com/d/sales?eg_jwt="),
        "{url}"
    );
    assert!(!url.contains(secret));
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = keys_file(&dir);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        .to_string();
    let (code, json) = verify(&url, &keys, &now);
    assert_eq!(code, Some(0), "{json}");
    assert_eq!(json["sub"], "ana maria");
    assert_eq!(json["session"], 900);
    assert_eq!(json["attrs"]["tenant"], "acme");
    assert_eq!(
        json["forward"],
        "/d/sales?orgId=1&var-region=apac&var-region=emea"
    );
}

#[test]
fn sign_jwt_refuses_what_a_verifier_refuses() {
    for (url, extra) in [
        ("https://h/d?eg_kid=x", &[][..]),
        ("https://h/a/../b", &[]),
        ("https://h/d?a=%FF", &[]),
        ("https://h/d", &["--exp", "9007199254740993"][..]),
    ] {
        let mut args = vec![
            "sign",
            "--jwt",
            url,
            "--kid",
            "k1",
            "--sub",
            "u",
            "--nonce",
            "AAAAAAAAAAAAAAAA",
        ];
        args.extend_from_slice(extra);
        let o = run(&args, Some("s3cr3t"));
        assert!(!o.status.success(), "{url} {extra:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("malformed"), "{err}");
        assert!(!err.contains("s3cr3t"));
    }
}

#[test]
fn a_malformed_token_has_no_string_to_sign() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = keys_file(&dir);
    let (code, json) = verify("https://h/d?eg_jwt=not.a.token", &keys, "0");
    assert_eq!(code, Some(1));
    assert_eq!(json["result"], "malformed");
    assert_eq!(json["scheme"], "EGJ1");
    assert!(json["string_to_sign"].is_null(), "{json}");
}
