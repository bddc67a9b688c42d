//! Differential tests: the crate against the specs' literal transcription
//! (`spec_reference.rs`) on hostile input. Random URLs built from the
//! pieces that make parsers disagree (dot segments with parameters,
//! escapes of every kind, `eg_` names in disguise, bad UTF-8, control
//! bytes), and signed URLs mutated one character or one re-encoding at a
//! time: string to sign, verdict and verified fields must agree, and both
//! signers must write the same URL. For EGJ1: tokens assembled from hostile
//! headers and claims (wrong `alg`, extra header members, repeated JSON
//! members, numbers with fractions, exponents or out of range, `params`
//! with `eg_` names, arrays, unicode escapes), signed so that the claims are
//! read, then mutated; and both EGJ1 signers on the same requests.
//!
//! `EMBEDGATE_FUZZ_CASES` sets the number of cases of each property
//! (default 20,000; `cargo xtask fuzz --cases N` runs more).

use std::collections::HashMap;

use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, TestRunner};

use crate::spec_reference::{self as reference, RefKey, RefVerified};
use crate::{EmbedKey, NonceCheck, SignRequest, Signer, UnverifiedEmbedUrl, VerifyPolicy};

const NOW: u64 = 1_767_225_000;
const SKEW: u64 = 60;
const MAX_URL_TTL: u64 = 600;

const KEYS: &[RefKey] = &[
    RefKey {
        kid: "ek_live_4f9c2a",
        secret: "q7Vt2mXc9LpR4sZb8NwK3yHd6FgJ1aEo",
        active: true,
        expires_at: None,
        scopes: &[],
    },
    RefKey {
        kid: "ek_old_1",
        secret: "oldSecretOldSecretOldSecret00000",
        active: false,
        expires_at: None,
        scopes: &[],
    },
    RefKey {
        kid: "ek_expiring",
        secret: "expiringSecretExpiringSecret0000",
        active: true,
        expires_at: Some(NOW - 1),
        scopes: &[],
    },
    RefKey {
        kid: "ek_scoped",
        secret: "scopedSecretScopedSecretScoped00",
        active: true,
        expires_at: None,
        scopes: &["/d/sales", "/x/"],
    },
];

fn cases() -> u32 {
    std::env::var("EMBEDGATE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    })
}

fn core_keys() -> HashMap<String, EmbedKey> {
    KEYS.iter()
        .map(|k| {
            let key = EmbedKey::new(k.secret.as_bytes())
                .with_active(k.active)
                .with_expires_at(k.expires_at)
                .with_scopes(k.scopes.iter().map(|s| (*s).to_owned()).collect());
            (k.kid.to_owned(), key)
        })
        .collect()
}

fn core_verify(url: &str, keys: &HashMap<String, EmbedKey>) -> Result<RefVerified, &'static str> {
    let policy = VerifyPolicy {
        skew: SKEW,
        max_url_ttl: MAX_URL_TTL,
        ..VerifyPolicy::default()
    };
    let v = UnverifiedEmbedUrl::parse(url)
        .and_then(|u| u.authenticate(keys, NOW, &policy))
        .and_then(|a| a.accept(NonceCheck::NotTracked))
        .map_err(|e| e.code())?;
    Ok(RefVerified {
        scheme: v.scheme().as_str(),
        kid: v.kid().to_owned(),
        sub: v.sub().to_owned(),
        exp: v.exp(),
        nonce: v.nonce().to_owned(),
        session: v.requested_session(),
        attrs: v
            .attrs()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect(),
        host: v.host().to_owned(),
        path: v.path().to_owned(),
        forward_query: v.forward_query().into_owned(),
    })
}

/// Both sides on one URL: string to sign and verdict.
fn agree(url: &str, keys: &HashMap<String, EmbedKey>) -> Result<(), TestCaseError> {
    let ours = crate::string_to_sign(url).ok();
    let theirs = reference::string_to_sign(url);
    prop_assert_eq!(&ours, &theirs, "string to sign of {:?}", url);
    let ours = core_verify(url, keys);
    let theirs = reference::verify(url, KEYS, NOW, SKEW, MAX_URL_TTL);
    prop_assert_eq!(&ours, &theirs, "verdict on {:?}", url);
    if let Ok(v) = ours {
        // What is forwarded must itself be canonical: it survives another pass.
        prop_assert_eq!(reference::normalise_path(&v.path), Some(v.path.clone()));
    }
    Ok(())
}

// ----- hostile pieces -----

const SCHEMES: &[&str] = &["https", "http", "HTTPS", "h+t.t-p", "1x", "", "ht tp"];
const HOSTS: &[&str] = &[
    "embed.example.com",
    "EMBED.Example.COM:443",
    "embed.example.com:80",
    "h:8080",
    "[::1]:443",
    "u@h",
    "h h",
    "",
    "h%41",
    "h:443:443",
];
const SEGMENTS: &[&str] = &[
    "d",
    "sales",
    "x",
    ".",
    "..",
    "...",
    "..;",
    "..;x",
    ".;",
    ";x",
    ";",
    "%2e",
    "%2E%2e",
    "%2e%2e;jsessionid=1",
    "..%3B",
    "..%3bx",
    ".%2e",
    "a;b=c",
    "%2F",
    "%2f",
    "%5C",
    "%5c",
    "\\",
    "%zz",
    "%4",
    "%",
    "é",
    "%C3%A9",
    " ",
    "%00",
    "%1f",
    "%7F",
    "\u{7f}",
    "\t",
    "~",
    "%7e",
    "%7E",
    "!$&'()*+,;=:@",
    "",
    "%41",
    "%3a",
    "%3A",
    "sales%20q",
    "%25",
    "a%2Eb",
    "%3F",
    "?",
    "#",
];
const NAMES: &[&str] = &[
    "orgId",
    "a",
    "B",
    "_x",
    "~",
    "%7E",
    "eg_kid",
    "eg_sub",
    "eg_exp",
    "eg_nonce",
    "eg_session",
    "eg_attr.tenant",
    "eg_attr.T",
    "eg_attr.",
    "eg_attr.a.b",
    "eg_attr.tenant%00",
    "eg_sig",
    "eg_foo",
    "eg%5Fkid",
    "%65g_sub",
    "e%67_exp",
    "eg_",
    "EG_kid",
    "",
    "kiosk",
    "x+y",
    "%zz",
    "eg_attr.t%65nant",
    "eg_jwt",
    "eg%5Fjwt",
];
const VALUES: &[&str] = &[
    "1",
    "",
    "+",
    "%20",
    "%2b",
    "%zz",
    "%4",
    "é",
    "%C3%A9",
    "%c3%a9",
    "%FF",
    "%C3",
    "%C0%80",
    "%0A",
    "%7F",
    "%09",
    "ek_live_4f9c2a",
    "ek_scoped",
    "ek_old_1",
    "ek_expiring",
    "ek%5Flive",
    "user-42",
    "ü ber",
    "1767225300",
    "01767225300",
    "0",
    "18446744073709551615",
    "18446744073709551616",
    "-1",
    "Yc1mB0sD7rX2aQ9vT4kL",
    "short",
    "3600",
    "acme",
    "a=b",
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB",
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+A",
    "e30.e30.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
];
const FRAGMENTS: &[&str] = &["", "#", "#frag", "#a?b=c", "#eg_sig=x"];

prop_compose! {
    fn hostile_url()(
        scheme in select(SCHEMES),
        host in select(HOSTS),
        leading_slash in prop::bool::weighted(0.95),
        segments in prop::collection::vec(select(SEGMENTS), 0..5),
        params in prop::collection::vec(
            (select(NAMES), select(VALUES), prop::bool::weighted(0.9)), 0..12),
        extra_amp in prop::bool::weighted(0.1),
        fragment in select(FRAGMENTS),
    ) -> String {
        let mut url = format!("{scheme}://{host}");
        if leading_slash || !segments.is_empty() {
            url.push('/');
        }
        url.push_str(&segments.join("/"));
        if !params.is_empty() {
            url.push('?');
            let pieces: Vec<String> = params
                .iter()
                .map(|(n, v, eq)| if *eq { format!("{n}={v}") } else { (*n).to_owned() })
                .collect();
            url.push_str(&pieces.join(if extra_amp { "&&" } else { "&" }));
        }
        url.push_str(fragment);
        url
    }
}

/// Text for `eg_sub` and attribute values: mostly printable, sometimes
/// with what the rules refuse.
fn text_value() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "[a-zA-Z0-9 ._~+%&=/?#@é€😀-]{1,24}",
        1 => "\\PC{1,12}",
        1 => "[a\\x00-\\x1f\\x7f]{1,4}",
        1 => Just(String::new()),
        1 => "[a]{250,260}",
    ]
}

fn content_url() -> impl Strategy<Value = String> {
    (
        select(
            &[
                "https://embed.example.com",
                "http://EMBED.example.com:80",
                "https://h:8443",
            ][..],
        ),
        prop::collection::vec(
            select(
                &[
                    "d", "sales", "x", "a;b=c", "%7e", "é", "q%20r", "..;", "%2e",
                ][..],
            ),
            1..4,
        ),
        prop::collection::vec(
            (
                select(
                    &[
                        "orgId",
                        "var-region",
                        "from",
                        "a b",
                        "é",
                        "B",
                        "_",
                        "eg_kid",
                    ][..],
                ),
                select(&["1", "emea", "now-7d", "a+b", "%2B", "x%20y", "", "é"][..]),
            ),
            0..5,
        ),
        select(&["", "#frag"][..]),
    )
        .prop_map(|(origin, segments, params, fragment)| {
            let mut url = format!("{origin}/{}", segments.join("/"));
            if !params.is_empty() {
                let pieces: Vec<String> = params.iter().map(|(n, v)| format!("{n}={v}")).collect();
                url.push('?');
                url.push_str(&pieces.join("&"));
            }
            url.push_str(fragment);
            url
        })
}

#[derive(Clone, Debug)]
struct Request {
    url: String,
    kid: usize,
    sub: String,
    exp: u64,
    nonce: String,
    session: Option<u64>,
    attrs: Vec<(String, String)>,
}

fn request() -> impl Strategy<Value = Request> {
    (
        content_url(),
        0..KEYS.len(),
        text_value(),
        prop_oneof![
            4 => (NOW - 100)..(NOW + 700),
            1 => any::<u64>(),
        ],
        prop_oneof![
            8 => "[A-Za-z0-9_-]{16,40}",
            1 => "[A-Za-z0-9_.-]{10,20}",
        ],
        prop::option::of(0u64..100_000),
        prop::collection::vec(
            (
                prop_oneof![4 => "[a-z0-9_-]{1,8}", 1 => "[A-Za-z.]{0,3}"],
                text_value(),
            ),
            0..4,
        ),
    )
        .prop_map(|(url, kid, sub, exp, nonce, session, attrs)| Request {
            url,
            kid,
            sub,
            exp,
            nonce,
            session,
            attrs,
        })
}

fn sign_both(r: &Request) -> (Option<String>, Option<String>) {
    let key = &KEYS[r.kid];
    let attrs: Vec<(&str, &str)> = r
        .attrs
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let ours = Signer::new(key.kid, key.secret.as_bytes())
        .and_then(|s| {
            s.sign(&SignRequest {
                url: &r.url,
                sub: &r.sub,
                exp: r.exp,
                nonce: &r.nonce,
                session: r.session,
                attrs: &attrs,
            })
        })
        .ok();
    let theirs = reference::sign(
        &r.url, key.kid, key.secret, &r.sub, r.exp, &r.nonce, r.session, &attrs,
    );
    (ours, theirs)
}

/// One edit of a signed URL.
#[derive(Clone, Debug)]
enum Mutation {
    Keep,
    Replace(usize, char),
    Delete(usize),
    Insert(usize, char),
    LowerHex,
    SpaceAsPlus,
    EscapeUnreserved(usize),
    Reorder(u64),
    Duplicate(usize),
    HostCase,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let hostile_char = select(
        &[
            '%', '&', '=', '+', ';', '.', '/', '\\', '#', '?', 'A', 'a', '0', 'é', '\u{7f}', '\n',
            ' ', '~', '_',
        ][..],
    );
    prop_oneof![
        2 => Just(Mutation::Keep),
        2 => (any::<usize>(), hostile_char.clone()).prop_map(|(i, c)| Mutation::Replace(i, c)),
        2 => any::<usize>().prop_map(Mutation::Delete),
        2 => (any::<usize>(), hostile_char).prop_map(|(i, c)| Mutation::Insert(i, c)),
        1 => Just(Mutation::LowerHex),
        1 => Just(Mutation::SpaceAsPlus),
        1 => any::<usize>().prop_map(Mutation::EscapeUnreserved),
        1 => any::<u64>().prop_map(Mutation::Reorder),
        1 => any::<usize>().prop_map(Mutation::Duplicate),
        1 => Just(Mutation::HostCase),
    ]
}

fn char_boundary(s: &str, i: usize) -> usize {
    let mut i = i % (s.len() + 1);
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn apply(url: &str, m: &Mutation) -> String {
    let mut s = url.to_owned();
    match *m {
        Mutation::Keep => {}
        Mutation::Replace(i, c) => {
            let i = char_boundary(&s, i);
            if let Some(old) = s[i..].chars().next() {
                s.replace_range(i..i + old.len_utf8(), c.encode_utf8(&mut [0; 4]));
            }
        }
        Mutation::Delete(i) => {
            let i = char_boundary(&s, i);
            if i < s.len() {
                s.remove(i);
            }
        }
        Mutation::Insert(i, c) => {
            let i = char_boundary(&s, i);
            s.insert(i, c);
        }
        Mutation::LowerHex => {
            // `%C3` → `%c3` everywhere: the same bytes.
            let mut out = String::new();
            let mut chars = s.chars().peekable();
            while let Some(c) = chars.next() {
                out.push(c);
                if c == '%' {
                    for _ in 0..2 {
                        if let Some(h) = chars.next() {
                            out.push(h.to_ascii_lowercase());
                        }
                    }
                }
            }
            s = out;
        }
        Mutation::SpaceAsPlus => s = s.replace("%20", "+"),
        Mutation::EscapeUnreserved(i) => {
            let i = char_boundary(&s, i);
            if let Some(c) = s[i..].chars().next().filter(|c| c.is_ascii_alphanumeric()) {
                s.replace_range(i..i + 1, &format!("%{:02x}", c as u8));
            }
        }
        Mutation::Reorder(seed) => {
            if let Some((head, query)) = s.split_once('?') {
                let (query, fragment) = query.split_at(query.find('#').unwrap_or(query.len()));
                let mut pieces: Vec<&str> = query.split('&').collect();
                let n = pieces.len();
                for k in 0..n {
                    pieces.swap(k, (seed as usize).wrapping_add(k * 7) % n);
                }
                s = format!("{head}?{}{fragment}", pieces.join("&"));
            }
        }
        Mutation::Duplicate(k) => {
            if let Some((head, query)) = s.split_once('?') {
                let (query, fragment) = query.split_at(query.find('#').unwrap_or(query.len()));
                let mut pieces: Vec<&str> = query.split('&').collect();
                let piece = pieces[k % pieces.len()];
                pieces.push(piece);
                s = format!("{head}?{}{fragment}", pieces.join("&"));
            }
        }
        Mutation::HostCase => s = s.replacen("embed.example.com", "Embed.EXAMPLE.com", 1),
    }
    s
}

#[test]
fn hostile_urls_agree_with_the_spec_reference() {
    let keys = core_keys();
    runner()
        .run(&hostile_url(), |url| agree(&url, &keys))
        .expect("the core and the spec reference agree");
}

#[test]
fn both_signers_write_the_same_url() {
    runner()
        .run(&request(), |r| {
            let (ours, theirs) = sign_both(&r);
            prop_assert_eq!(ours, theirs, "{:?}", r);
            Ok(())
        })
        .expect("the signers agree");
}

#[test]
fn mutated_signed_urls_agree_with_the_spec_reference() {
    let keys = core_keys();
    runner()
        .run(&(request(), mutation()), |(r, m)| {
            let (Some(url), _) = sign_both(&r) else {
                return Ok(());
            };
            let mutated = apply(&url, &m);
            if matches!(m, Mutation::Keep) {
                // Unchanged, a signed URL verifies unless a time or key rule says no.
                let verdict = core_verify(&url, &keys);
                prop_assert!(
                    !matches!(verdict, Err("malformed" | "bad_signature")),
                    "{:?}: {:?}",
                    url,
                    verdict
                );
            }
            agree(&mutated, &keys)
        })
        .expect("the core and the spec reference agree on mutated URLs");
}

// ----- EGJ1 -----

/// JOSE headers: valid ones for each key, and every way §1 refuses one.
const HEADERS: &[&str] = &[
    r#"{"alg":"HS256","kid":"ek_live_4f9c2a","typ":"JWT"}"#,
    r#"{"alg":"HS256","kid":"ek_live_4f9c2a"}"#,
    r#" { "typ" : "JWT" , "alg" : "HS\u0032\u00356" , "kid" : "ek_live_4f9c2a" } "#,
    r#"{"alg":"HS256","kid":"ek_scoped","typ":"JWT"}"#,
    r#"{"alg":"HS256","kid":"ek_old_1"}"#,
    r#"{"alg":"HS256","kid":"ek_expiring"}"#,
    r#"{"alg":"HS256","kid":"ek_nobody"}"#,
    r#"{"alg":"none","kid":"ek_live_4f9c2a"}"#,
    r#"{"alg":"HS512","kid":"ek_live_4f9c2a"}"#,
    r#"{"alg":"HS256","kid":"ek_live_4f9c2a","typ":"jwt"}"#,
    r#"{"alg":"HS256","kid":"ek_live_4f9c2a","jku":"https://x.example/k"}"#,
    r#"{"alg":"HS256","kid":"ek_live_4f9c2a","crit":["exp"]}"#,
    r#"{"alg":"HS256","alg":"HS256","kid":"ek_live_4f9c2a"}"#,
    r#"{"alg":"HS256","kid":"ek live"}"#,
    r#"{"alg":"HS256","kid":5}"#,
    r#"{"alg":"HS256"}"#,
    r#"["HS256"]"#,
    r#"{"alg":"HS256","kid":"ek_live_4f9c2a"} x"#,
    "",
];

/// Claims as JSON members, each a name and a hostile choice of value.
const CLAIMS: &[(&str, &[&str])] = &[
    (
        "aud",
        &[
            r#""embed.example.com""#,
            r#""embed.example.com""#,
            r#""EMBED.example.com""#,
            r#""embed.example.com:443""#,
            r#""h:8443""#,
            r#"["embed.example.com"]"#,
            "null",
        ],
    ),
    (
        "path",
        &[
            r#""/d/sales""#,
            r#""/d/sales""#,
            r#""/d/%73ales""#,
            r#""\/d\/sales""#,
            r#""/d/x/../sales""#,
            r#""/d/..;/sales""#,
            r#""d/sales""#,
            r#""/x/y""#,
            r#""/e/f""#,
            "5",
        ],
    ),
    (
        "params",
        &[
            r#"{"orgId":"1"}"#,
            r#"{"var-region":["emea","apac"],"orgId":"1","q":"a b+c\/\u00fc"}"#,
            r#"{}"#,
            r#"{"a":[]}"#,
            r#"{"":"","~":"%"}"#,
            r#"{"\u00e9":"\ud83d\ude00","x":"\u0000\n"}"#,
            r#"{"eg_sub":"admin"}"#,
            r#"{"eg%5Fsub":"admin"}"#,
            r#"{"a":1}"#,
            r#"{"a":["1",2]}"#,
            r#"{"a":[["1"]]}"#,
            r#"{"a":null}"#,
            r#"{"a":"1","a":"2"}"#,
            r#"{"a":"\ud800"}"#,
            r#"["orgId","1"]"#,
        ],
    ),
    (
        "sub",
        &[
            r#""user-42""#,
            r#""user-42""#,
            r#""\u00fc ber \"x\"""#,
            r#""""#,
            r#""a\u0000""#,
            r#""a\u007f""#,
            r#""a\tb""#,
            "42",
        ],
    ),
    (
        "exp",
        &[
            "1767225300",
            "1767225000",
            "1767224940",
            "1767224939",
            "1767225661",
            "1767225660",
            "1767225661",
            "1767224000",
            "1767225300.0",
            "1.7672253e9",
            "17672253E2",
            r#""1767225300""#,
            "-1",
            "-0",
            "9007199254740992",
            "9007199254740993",
            "18446744073709551616",
            "01767225300",
            "null",
        ],
    ),
    (
        "jti",
        &[
            r#""Yc1mB0sD7rX2aQ9vT4kL""#,
            r#""Yc1mB0sD7rX2aQ9vT4kL""#,
            r#""Yc1mB0sD7rX2aQ9v""#,
            r#""short""#,
            r#""Yc1mB0sD7rX2aQ9vT4k!""#,
            r#""Yc1mB0sD7rX2aQ9vT4\u006b""#,
            "1234567890123456",
        ],
    ),
    (
        "nbf",
        &[
            "1767225000",
            "1767225060",
            "1767225061",
            "0",
            "1.5",
            "null",
            r#""0""#,
        ],
    ),
    (
        "session",
        &["0", "600", "86400", "-5", "1e3", "9007199254740992", "true"],
    ),
    (
        "attrs",
        &[
            r#"{"tenant":"acme"}"#,
            r#"{"tenant":"acme","region":"\u00e9u"}"#,
            r#"{}"#,
            r#"{"Tenant":"x"}"#,
            r#"{"t":"a\nb"}"#,
            r#"{"t":1}"#,
            r#"{"t":"1","t":"1"}"#,
            r#"{"a.b":"1"}"#,
            "[]",
        ],
    ),
    (
        "iat",
        &[
            "1767225000",
            "1.5e300",
            r#"{"a":[1,{"b":null}],"c":true}"#,
            r#"{"a":1,"a":2}"#,
            "[[[[[[]]]]]]",
            r#""\ud800""#,
            "01",
            "tru",
        ],
    ),
    ("iss", &[r#""app""#, "null", "false", "[]"]),
];

/// What surrounds and joins the members: whitespace, or a stray byte.
const JSON_SEPARATORS: &[&str] = &[",", " , ", ",\n\t", ",,"];
const JSON_ENDS: &[&str] = &["", " ", "\n", " x", "}"];

/// How the token reaches the URL.
#[derive(Clone, Debug)]
enum Signature {
    /// HMAC under the secret of the key the header names (the first key's
    /// when it names none).
    Named,
    /// HMAC under the secret of this index in `KEYS`.
    Key(usize),
    /// A signature part as written.
    Raw(&'static str),
}

prop_compose! {
    /// A claims object whose required claims default to valid ones, for
    /// `target` (the path the token is for).
    fn claims_json(target: &'static str)(
        members in prop::collection::vec(
            (0..CLAIMS.len()).prop_flat_map(|k| {
                let values = CLAIMS[k].1;
                // Mostly the first (valid) value, so that later rules are reached.
                (Just(k), prop_oneof![2 => Just(values[0]), 1 => select(values)])
            }),
            0..5,
        ),
        all_required in prop::bool::weighted(0.8),
        sep in prop_oneof![4 => Just(","), 1 => select(JSON_SEPARATORS)],
        end in prop_oneof![4 => Just(""), 1 => select(JSON_ENDS)],
    ) -> String {
        let mut parts: Vec<String> = Vec::new();
        if all_required {
            // Every required claim, valid, so that the optional ones matter.
            for (name, value) in [
                ("aud", r#""embed.example.com""#),
                ("path", &format!("\"{target}\"")),
                ("sub", r#""user-42""#),
                ("exp", "1767225300"),
                ("jti", r#""Yc1mB0sD7rX2aQ9vT4kL""#),
            ] {
                if !members.iter().any(|(k, _)| CLAIMS[*k].0 == name) {
                    parts.push(format!("\"{name}\":{value}"));
                }
            }
        }
        for (k, value) in &members {
            parts.push(format!("\"{}\":{value}", CLAIMS[*k].0));
        }
        format!("{{{}}}{end}", parts.join(sep))
    }
}

prop_compose! {
    fn hostile_jwt_url()(
        target in select(&["/d/sales", "/d/sales", "/e/f", "/x/y"][..]),
    )(
        target in Just(target),
        header in prop_oneof![4 => Just(0usize), 1 => Just(3), 1 => 0..HEADERS.len()],
        claims in claims_json(target),
        signature in prop_oneof![
            6 => Just(Signature::Named),
            1 => (0..KEYS.len()).prop_map(Signature::Key),
            1 => select(&[
                "",
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB",
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            ][..]).prop_map(Signature::Raw),
        ],
        host in prop_oneof![
            4 => Just("embed.example.com"),
            1 => select(&["EMBED.example.com:443", "embed.example.com:80", "h:8443", "other.example"][..]),
        ],
        path in prop_oneof![
            4 => Just(""),
            1 => select(&["/d/%73ales", "/d/sales/", "/x/y", "/e/f", "/d/x/../sales", "/"][..]),
        ],
        query in prop_oneof![
            6 => Just("eg_jwt={}"),
            1 => select(&["eg%5Fjwt={}", "eg_jwt={}&", "&&eg_jwt={}", "eg_jwt={}&orgId=2", "eg_jwt={}&eg_jwt={}", "eg_jwt={}&eg_kid=ek_live_4f9c2a"][..]),
        ],
        fragment in select(&["", "#f", "#eg_jwt=x"][..]),
    ) -> String {
        let header_json = HEADERS[header];
        let token = match signature {
            Signature::Named => {
                let named = KEYS.iter().find(|key| header_json.contains(key.kid));
                reference::token_of(header_json, &claims, named.unwrap_or(&KEYS[0]).secret)
            }
            Signature::Key(k) => reference::token_of(header_json, &claims, KEYS[k].secret),
            Signature::Raw(sig) => {
                let signed = reference::token_of(header_json, &claims, KEYS[0].secret);
                let (head, _) = signed.rsplit_once('.').expect("three parts");
                format!("{head}.{sig}")
            }
        };
        // Mostly the path the token is for.
        let path = if path.is_empty() { target } else { path };
        format!("https://{host}{path}?{}{fragment}", query.replace("{}", &token))
    }
}

#[test]
fn hostile_tokens_agree_with_the_spec_reference() {
    let keys = core_keys();
    let verdicts = std::cell::RefCell::new(std::collections::BTreeMap::new());
    runner()
        .run(&hostile_jwt_url(), |url| {
            let verdict = core_verify(&url, &keys);
            *verdicts
                .borrow_mut()
                .entry(match &verdict {
                    Ok(_) => "ok",
                    Err(e) => e,
                })
                .or_insert(0u32) += 1;
            agree(&url, &keys)
        })
        .expect("the core and the spec reference agree on hostile tokens");
    eprintln!("verdicts: {:?}", verdicts.borrow());
    // The generator reaches every step of EGJ1 §3 a stateless verifier has.
    if cases() >= 2000 {
        for code in [
            "ok",
            "malformed",
            "unknown_key",
            "key_inactive",
            "bad_signature",
            "expired",
            "exp_too_far",
            "out_of_scope",
        ] {
            let verdicts = verdicts.borrow();
            assert!(verdicts.contains_key(code), "no {code} in {verdicts:?}");
        }
    }
}

fn sign_jwt_both(r: &Request) -> (Option<String>, Option<String>) {
    let key = &KEYS[r.kid];
    let attrs: Vec<(&str, &str)> = r
        .attrs
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let ours = Signer::new(key.kid, key.secret.as_bytes())
        .and_then(|s| {
            s.sign_jwt(&SignRequest {
                url: &r.url,
                sub: &r.sub,
                exp: r.exp,
                nonce: &r.nonce,
                session: r.session,
                attrs: &attrs,
            })
        })
        .ok();
    let theirs = reference::sign_jwt(
        &r.url, key.kid, key.secret, &r.sub, r.exp, &r.nonce, r.session, &attrs,
    );
    (ours, theirs)
}

#[test]
fn both_jwt_signers_write_the_same_url() {
    runner()
        .run(&request(), |r| {
            let (ours, theirs) = sign_jwt_both(&r);
            prop_assert_eq!(ours, theirs, "{:?}", r);
            Ok(())
        })
        .expect("the EGJ1 signers agree");
}

#[test]
fn mutated_signed_tokens_agree_with_the_spec_reference() {
    let keys = core_keys();
    runner()
        .run(&(request(), mutation()), |(r, m)| {
            let (Some(url), _) = sign_jwt_both(&r) else {
                return Ok(());
            };
            if matches!(m, Mutation::Keep) {
                // Unchanged, a signed token verifies unless a time or key rule says no.
                let verdict = core_verify(&url, &keys);
                prop_assert!(
                    !matches!(verdict, Err("malformed" | "bad_signature")),
                    "{:?}: {:?}",
                    url,
                    verdict
                );
                if let Ok(v) = &verdict {
                    prop_assert_eq!(v.scheme, "EGJ1");
                }
            }
            agree(&apply(&url, &m), &keys)
        })
        .expect("the core and the spec reference agree on mutated tokens");
}
