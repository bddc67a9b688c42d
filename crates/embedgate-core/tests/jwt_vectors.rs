//! The shared EGJ1 conformance vectors (tests/vectors/embed-jwt-v1.json, an
//! exact copy of the file computed by an independent implementation), the
//! signer against them, and the steps of EGJ1 §3 a stateless vector file
//! cannot show (replay, scope, the order of the checks).

use std::collections::HashMap;

use embedgate_core::{
    verify_url, EmbedKey, NonceCheck, Reason, Scheme, SignRequest, Signer, UnverifiedEmbedUrl,
    VerifyPolicy,
};
use serde_json::Value;

const VECTORS: &str = include_str!("../../../tests/vectors/embed-jwt-v1.json");

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

fn policy(v: &Value) -> VerifyPolicy {
    VerifyPolicy {
        skew: v["skew"].as_u64().expect("skew"),
        max_url_ttl: v["max_url_ttl"].as_u64().expect("max_url_ttl"),
        ..VerifyPolicy::default()
    }
}

fn case<'v>(v: &'v Value, name: &str) -> &'v Value {
    v["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no case {name:?}"))
}

#[test]
fn every_vector_case_gives_the_expected_verdict_and_forward() {
    let v = vectors();
    assert_eq!(v["scheme"], "EGJ1-HS256");
    let keys = keys(&v);
    let policy = policy(&v);
    let cases = v["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 30, "the vector file lost or gained cases");
    let mut failures = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let url = case["url"].as_str().expect("url");
        let now = case["now"].as_u64().expect("now");
        let expect = case["expect"].as_str().expect("expect");
        seen.insert(expect.to_owned());
        let result = UnverifiedEmbedUrl::parse(url)
            .and_then(|u| u.authenticate(&keys, now, &policy))
            .and_then(|a| a.accept(NonceCheck::Fresh));
        match (result, expect) {
            (Ok(ok), "ok") => {
                let forward = case["forward"].as_str().expect("an ok case has forward");
                if ok.forward_path_and_query() != forward {
                    failures.push(format!(
                        "{name}: forward {:?}, expected {forward:?}",
                        ok.forward_path_and_query()
                    ));
                }
                if ok.scheme() != Scheme::Egj1 {
                    failures.push(format!("{name}: read as {:?}", ok.scheme()));
                }
            }
            (Ok(_), _) => failures.push(format!("{name}: expected {expect}, got ok")),
            (Err(e), _) if e.code() == expect => {}
            (Err(e), _) => failures.push(format!("{name}: expected {expect}, got {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "vector failures:\n{}",
        failures.join("\n")
    );
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

#[test]
fn verified_fields_of_a_token() {
    let v = vectors();
    let c = case(&v, "array params, attributes, session");
    let ok = verify_url(
        c["url"].as_str().expect("url"),
        &keys(&v),
        c["now"].as_u64().expect("now"),
        &policy(&v),
    )
    .expect("ok");
    assert_eq!(ok.kid(), "ek_live_4f9c2a");
    assert_eq!(ok.sub(), "user-42");
    assert_eq!(ok.exp(), 1_767_225_300);
    assert_eq!(ok.nonce(), "Yc1mB0sD7rX2aQ9vT4kL");
    assert_eq!(ok.requested_session(), Some(1800));
    assert_eq!(ok.session_secs(), 1800);
    assert_eq!(
        ok.attrs().collect::<Vec<_>>(),
        [("role", "viewer"), ("tenant", "acme")]
    );
    assert_eq!(ok.host(), "embed.example.com");
    assert_eq!(ok.path(), "/d/sales");
    assert_eq!(
        ok.forward_query(),
        "orgId=1&var-region=apac&var-region=emea"
    );
}

/// The signer writes what the independent implementation wrote, byte for
/// byte, wherever the vector's token follows the same claim order.
#[test]
fn sign_jwt_reproduces_the_vectors() {
    let v = vectors();
    let secret = |kid: &str| {
        v["keys"][kid]["secret"]
            .as_str()
            .expect("secret")
            .to_owned()
    };
    let reproduce = [
        (
            "basic",
            "ek_live_4f9c2a",
            "https://embed.example.com/d/sales?orgId=1",
            &[][..],
            None,
        ),
        (
            "default port in the URL",
            "ek_live_4f9c2a",
            "https://embed.example.com:443/d/sales?orgId=1",
            &[],
            None,
        ),
        (
            "older secret still active",
            "ek_old_77e1",
            "https://embed.example.com/d/sales?orgId=1",
            &[],
            None,
        ),
        (
            "no params",
            "ek_live_4f9c2a",
            "https://embed.example.com/d/sales",
            &[],
            None,
        ),
        (
            "params needing escapes",
            "ek_live_4f9c2a",
            "https://embed.example.com/d/sales?q=a+b%2Bc%2F%C3%BC&empty",
            &[],
            None,
        ),
        (
            "array params, attributes, session",
            "ek_live_4f9c2a",
            "https://embed.example.com/d/sales?var-region=emea&var-region=apac&orgId=1",
            &[("tenant", "acme"), ("role", "viewer")],
            Some(1800),
        ),
    ];
    for (name, kid, url, attrs, session) in reproduce {
        let signer = Signer::new(kid, secret(kid).as_bytes()).expect("kid");
        let signed = signer
            .sign_jwt(&SignRequest {
                url,
                sub: "user-42",
                exp: 1_767_225_300,
                nonce: "Yc1mB0sD7rX2aQ9vT4kL",
                session,
                attrs,
            })
            .expect("signs");
        assert_eq!(signed, case(&v, name)["url"], "{name}");
    }
}

#[test]
fn sign_jwt_keeps_the_origin_and_fragment_and_normalises_the_path() {
    let signer = Signer::new("k1", b"s").expect("kid");
    let req = |url| SignRequest {
        url,
        sub: "u",
        exp: 100,
        nonce: "AAAAAAAAAAAAAAAA",
        session: None,
        attrs: &[],
    };
    let url = signer
        .sign_jwt(&req("HTTP://Embed.Example.com:80/d/%73ales/?a=1#frag?x"))
        .expect("signs");
    assert!(
        url.starts_with("HTTP://Embed.Example.com:80/d/sales/?eg_jwt="),
        "{url}"
    );
    assert!(url.ends_with("#frag?x"), "{url}");
    let keys: HashMap<String, EmbedKey> = [("k1".to_owned(), EmbedKey::new(b"s"))].into();
    let ok = verify_url(&url, &keys, 50, &VerifyPolicy::default()).expect("verifies");
    assert_eq!(ok.host(), "embed.example.com");
    assert_eq!(ok.forward_path_and_query(), "/d/sales/?a=1");
    let bare = signer.sign_jwt(&req("https://h")).expect("signs");
    assert!(bare.starts_with("https://h/?eg_jwt="), "{bare}");

    for bad in [
        "https://h/p?eg_jwt=x",
        "https://h/p?eg%5Fsub=x",
        "https://h/a/..;/b",
        "https://h/p?a=%FF",
        "https://h/p?a=%zz",
        "h/p",
    ] {
        assert_eq!(
            signer.sign_jwt(&req(bad)).unwrap_err().reason(),
            Reason::Malformed,
            "{bad}"
        );
    }
    for (sub, nonce, exp, session) in [
        ("", "AAAAAAAAAAAAAAAA", 100, None),
        ("a\nb", "AAAAAAAAAAAAAAAA", 100, None),
        ("u", "short", 100, None),
        ("u", "AAAAAAAAAAAAAAAA", (1 << 53) + 1, None),
        ("u", "AAAAAAAAAAAAAAAA", 100, Some((1 << 53) + 1)),
    ] {
        let r = SignRequest {
            url: "https://h/p",
            sub,
            exp,
            nonce,
            session,
            attrs: &[],
        };
        assert!(signer.sign_jwt(&r).is_err(), "{r:?}");
    }
    let limit = SignRequest {
        url: "https://h/p",
        sub: "u",
        exp: 1 << 53,
        nonce: "AAAAAAAAAAAAAAAA",
        session: Some(1 << 53),
        attrs: &[],
    };
    assert!(signer.sign_jwt(&limit).is_ok());
}

/// EGJ1 §3 steps 9 and 10 come after the MAC and time rules, with the jti
/// as the nonce remembered until `exp + skew`.
#[test]
fn replay_and_scope_follow_the_spec_order() {
    let v = vectors();
    let c = case(&v, "basic");
    let url = c["url"].as_str().expect("url");
    let now = c["now"].as_u64().expect("now");
    let secret = v["keys"]["ek_live_4f9c2a"]["secret"]
        .as_str()
        .expect("secret");
    let scoped: HashMap<String, EmbedKey> = [(
        "ek_live_4f9c2a".to_owned(),
        EmbedKey::new(secret.as_bytes()).with_scopes(vec!["/d/other".into()]),
    )]
    .into();
    let policy = VerifyPolicy::default();
    let parsed = UnverifiedEmbedUrl::parse(url).expect("parses");
    assert_eq!(parsed.kid(), "ek_live_4f9c2a");
    assert_eq!(parsed.scheme(), Scheme::Egj1);
    let token = url.split_once("eg_jwt=").expect("token").1;
    assert_eq!(
        parsed.string_to_sign(),
        token.rsplit_once('.').expect("three parts").0
    );
    let authentic = parsed
        .clone()
        .authenticate(&scoped, now, &policy)
        .expect("authentic");
    assert_eq!(authentic.nonce(), "Yc1mB0sD7rX2aQ9vT4kL");
    assert_eq!(authentic.remember_until(), 1_767_225_300 + 60);
    assert_eq!(
        authentic.accept(NonceCheck::Replayed).unwrap_err().reason(),
        Reason::Replayed
    );
    let authentic = parsed
        .authenticate(&scoped, now, &policy)
        .expect("authentic");
    assert_eq!(
        authentic.accept(NonceCheck::Fresh).unwrap_err().reason(),
        Reason::OutOfScope
    );
}

/// A key's status is checked before the MAC, the MAC before the payload is
/// read, the binding before the time rules.
#[test]
fn the_checks_come_in_the_spec_order() {
    let v = vectors();
    let keys = keys(&v);
    let policy = policy(&v);
    let verdict = |url: &str, now| match verify_url(url, &keys, now, &policy) {
        Ok(_) => "ok".to_owned(),
        Err(e) => e.code().to_owned(),
    };
    // Garbage payload under the inactive key: key_inactive, not malformed.
    let garbage = case(&v, "garbage payload, wrong signature")["url"]
        .as_str()
        .expect("url");
    let inactive_header = "eyJhbGciOiJIUzI1NiIsImtpZCI6ImVrX29mZl8wMDAxIiwidHlwIjoiSldUIn0";
    let (_, rest) = garbage.split_once("eg_jwt=").expect("token");
    let (_, after_header) = rest.split_once('.').expect("parts");
    let inactive =
        format!("https://embed.example.com/d/sales?eg_jwt={inactive_header}.{after_header}");
    assert_eq!(verdict(&inactive, 1_767_225_000), "key_inactive");
    // Signed for another path, and long expired: the binding answers first.
    let other_path = case(&v, "signed for another path")["url"]
        .as_str()
        .expect("url");
    assert_eq!(
        verdict(other_path, 1_767_225_000 + 100_000),
        "bad_signature"
    );
    // The same token on the path it was signed for: expired then.
    let moved = other_path.replace("/d/sales?", "/d/finance?");
    assert_eq!(verdict(&moved, 1_767_225_000), "ok");
    assert_eq!(verdict(&moved, 1_767_225_000 + 100_000), "expired");
}

/// The EG1 vectors still read as EG1 through the same entry point.
#[test]
fn eg1_urls_are_still_eg1() {
    let eg1: Value = serde_json::from_str(include_str!("../../../tests/vectors/embed-url-v1.json"))
        .expect("json");
    let url = eg1["cases"][0]["url"].as_str().expect("url");
    assert_eq!(
        UnverifiedEmbedUrl::parse(url).expect("parses").scheme(),
        Scheme::Eg1
    );
    assert_eq!(Scheme::of_url(url), Some(Scheme::Eg1));
    let v = vectors();
    let jwt_url = case(&v, "basic")["url"].as_str().expect("url");
    assert_eq!(Scheme::of_url(jwt_url), Some(Scheme::Egj1));
    // An EG1 URL that also carries eg_jwt is read as EGJ1, and refused.
    let both = format!("{url}&eg_jwt=x");
    assert_eq!(Scheme::of_url(&both), Some(Scheme::Egj1));
    assert_eq!(
        UnverifiedEmbedUrl::parse(&both).unwrap_err().reason(),
        Reason::Malformed
    );
}
