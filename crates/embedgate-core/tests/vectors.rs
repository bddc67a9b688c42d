//! The shared conformance vectors (tests/vectors/embed-url-v1.json, an exact
//! copy of the file computed by an independent implementation) and the RFC
//! 4231 HMAC-SHA256 vectors.

use std::collections::HashMap;

use embedgate_core::{
    string_to_sign, EmbedKey, NonceCheck, Reason, Signer, UnverifiedEmbedUrl, VerifyPolicy,
};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

const VECTORS: &str = include_str!("../../../tests/vectors/embed-url-v1.json");

fn vectors() -> Value {
    serde_json::from_str(VECTORS).expect("vector file is JSON")
}

fn keys(v: &Value) -> HashMap<String, EmbedKey> {
    v["keys"]
        .as_object()
        .expect("keys object")
        .iter()
        .map(|(kid, k)| {
            let secret = k["secret"].as_str().expect("secret");
            let active = k["active"].as_bool().expect("active");
            (
                kid.clone(),
                EmbedKey::new(secret.as_bytes()).with_active(active),
            )
        })
        .collect()
}

fn verdict(url: &str, keys: &HashMap<String, EmbedKey>, now: u64, policy: &VerifyPolicy) -> String {
    let result = UnverifiedEmbedUrl::parse(url)
        .and_then(|u| u.authenticate(keys, now, policy))
        .and_then(|a| a.accept(NonceCheck::Fresh));
    match result {
        Ok(_) => "ok".to_owned(),
        Err(e) => e.code().to_owned(),
    }
}

#[test]
fn every_vector_case_gives_the_expected_verdict_and_string_to_sign() {
    let v = vectors();
    assert_eq!(v["scheme"], "EG1-HMAC-SHA256");
    let keys = keys(&v);
    let policy = VerifyPolicy {
        skew: v["skew"].as_u64().expect("skew"),
        max_url_ttl: v["max_url_ttl"].as_u64().expect("max_url_ttl"),
        ..VerifyPolicy::default()
    };
    let cases = v["cases"].as_array().expect("cases");
    assert!(cases.len() >= 30, "the vector file lost cases");
    let mut failures = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let url = case["url"].as_str().expect("url");
        let now = case["now"].as_u64().expect("now");
        let expect = case["expect"].as_str().expect("expect");
        assert!(
            Reason::from_code(expect).is_some() || expect == "ok",
            "{name}: unknown code {expect}"
        );
        seen.insert(expect.to_owned());
        let got = verdict(url, &keys, now, &policy);
        if got != expect {
            failures.push(format!("{name}: expected {expect}, got {got}"));
        }
        if let Some(sts) = case.get("string_to_sign").and_then(Value::as_str) {
            match string_to_sign(url) {
                Ok(ours) if ours == sts => {}
                Ok(ours) => failures.push(format!(
                    "{name}: string to sign\n  ours:   {ours:?}\n  theirs: {sts:?}"
                )),
                Err(e) => failures.push(format!("{name}: string to sign failed: {e}")),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "vector failures:\n{}",
        failures.join("\n")
    );
    // The file exercises the reasons a stateless verifier can produce.
    for code in [
        "ok",
        "malformed",
        "unknown_key",
        "key_inactive",
        "bad_signature",
        "expired",
        "exp_too_far",
    ] {
        assert!(seen.contains(code), "no vector case for {code}");
    }
}

/// Every `ok` case can be reproduced by our signer from its parts: the
/// signature we produce equals the independent one.
#[test]
fn signer_reproduces_every_ok_signature() {
    let v = vectors();
    let secrets = v["keys"].as_object().expect("keys");
    for case in v["cases"].as_array().expect("cases") {
        if case["expect"] != "ok" {
            continue;
        }
        let url = case["url"].as_str().expect("url");
        let sts = string_to_sign(url).expect("sts");
        let sig = url
            .split("eg_sig=")
            .nth(1)
            .expect("sig")
            .split('&')
            .next()
            .expect("sig");
        let kid = url
            .split("eg_kid=")
            .nth(1)
            .expect("kid")
            .split('&')
            .next()
            .expect("kid");
        let secret = secrets[kid]["secret"].as_str().expect("secret");
        assert_eq!(
            EmbedKey::new(secret.as_bytes()).signature_for(&sts),
            sig,
            "{}",
            case["name"]
        );
        // And a Signer accepts the kid.
        Signer::new(kid, secret.as_bytes()).expect("kid is valid");
    }
}

#[test]
fn scope_and_replay_follow_the_spec_order() {
    let v = vectors();
    let secret = v["keys"]["ek_live_4f9c2a"]["secret"]
        .as_str()
        .expect("secret");
    let scoped: HashMap<String, EmbedKey> = [(
        "ek_live_4f9c2a".to_owned(),
        EmbedKey::new(secret.as_bytes()).with_scopes(vec!["/d/other".into()]),
    )]
    .into();
    let url = v["cases"][0]["url"].as_str().expect("url");
    let now = v["cases"][0]["now"].as_u64().expect("now");
    let policy = VerifyPolicy::default();
    let authentic = UnverifiedEmbedUrl::parse(url)
        .expect("parses")
        .authenticate(&scoped, now, &policy)
        .expect("authentic");
    assert_eq!(authentic.remember_until(), 1_767_225_300 + 60);
    assert_eq!(authentic.nonce(), "Yc1mB0sD7rX2aQ9vT4kL");
    // Replay is step 7, scope step 8: a replayed URL says replayed.
    let again = UnverifiedEmbedUrl::parse(url)
        .expect("parses")
        .authenticate(&scoped, now, &policy)
        .expect("authentic");
    assert_eq!(
        again.accept(NonceCheck::Replayed).unwrap_err().reason(),
        Reason::Replayed
    );
    assert_eq!(
        authentic.accept(NonceCheck::Fresh).unwrap_err().reason(),
        Reason::OutOfScope
    );

    let wide: HashMap<String, EmbedKey> = [(
        "ek_live_4f9c2a".to_owned(),
        EmbedKey::new(secret.as_bytes()).with_scopes(vec!["/d/".into()]),
    )]
    .into();
    let ok = embedgate_core::verify_url(url, &wide, now, &policy).expect("in scope");
    assert_eq!(ok.forward_path_and_query(), "/d/sales?orgId=1");
    assert_eq!(ok.session_secs(), policy.max_session);
}

#[test]
fn key_expiry_makes_the_key_inactive() {
    let v = vectors();
    let secret = v["keys"]["ek_live_4f9c2a"]["secret"]
        .as_str()
        .expect("secret");
    let url = v["cases"][0]["url"].as_str().expect("url");
    let now = v["cases"][0]["now"].as_u64().expect("now");
    let key = |exp| -> HashMap<String, EmbedKey> {
        [(
            "ek_live_4f9c2a".to_owned(),
            EmbedKey::new(secret.as_bytes()).with_expires_at(Some(exp)),
        )]
        .into()
    };
    let policy = VerifyPolicy::default();
    assert!(embedgate_core::verify_url(url, &key(now), now, &policy).is_ok());
    let err = embedgate_core::verify_url(url, &key(now - 1), now, &policy).unwrap_err();
    assert_eq!(err.reason(), Reason::KeyInactive);
}

#[test]
fn session_is_clamped_to_the_policy() {
    let v = vectors();
    let case = v["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .find(|c| c["name"] == "attributes and session")
        .expect("case");
    let keys = keys(&v);
    let url = case["url"].as_str().expect("url");
    let now = case["now"].as_u64().expect("now");
    let short = VerifyPolicy {
        max_session: 600,
        ..VerifyPolicy::default()
    };
    let ok = embedgate_core::verify_url(url, &keys, now, &short).expect("ok");
    assert_eq!(ok.session_secs(), 600);
    assert_eq!(ok.requested_session(), Some(3600));
    let long = VerifyPolicy {
        max_session: 86_400,
        ..VerifyPolicy::default()
    };
    assert_eq!(
        embedgate_core::verify_url(url, &keys, now, &long)
            .expect("ok")
            .session_secs(),
        3600
    );
    assert_eq!(
        ok.attrs().collect::<Vec<_>>(),
        [("region", "emea"), ("tenant", "acme")]
    );
}

/// RFC 4231 §4: HMAC-SHA256 test cases 1-4, 6 and 7 (case 5 is a truncated
/// output). Text messages go through `EmbedKey` (our keying path, including
/// keys longer than a block); the binary ones through the same HMAC type.
#[test]
fn rfc4231_hmac_sha256() {
    use base64::Engine as _;
    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }
    let text: [(Vec<u8>, &str, &str); 4] = [
        (vec![0x0b; 20], "Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        (b"Jefe".to_vec(), "what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        (vec![0xaa; 131], "Test Using Larger Than Block-Size Key - Hash Key First", "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
        (vec![0xaa; 131], "This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.", "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
    ];
    for (key, data, want) in text {
        let sig = EmbedKey::new(&key).signature_for(data);
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(sig)
            .expect("base64url");
        assert_eq!(raw, hex(want), "RFC 4231 message {data:?}");
    }
    let binary: [(Vec<u8>, Vec<u8>, &str); 2] = [
        (
            vec![0xaa; 20],
            vec![0xdd; 50],
            "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
        ),
        (
            hex("0102030405060708090a0b0c0d0e0f10111213141516171819"),
            vec![0xcd; 50],
            "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
        ),
    ];
    for (key, data, want) in binary {
        let mut mac =
            <Hmac<Sha256> as hmac::digest::KeyInit>::new_from_slice(&key).expect("any key length");
        mac.update(&data);
        assert_eq!(mac.finalize().into_bytes().to_vec(), hex(want));
    }
}
