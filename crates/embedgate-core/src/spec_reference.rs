//! `embed-url-v1.md` (revision 1.1) and `embed-jwt-v1.md`, transcribed as
//! literally as Rust allows, for differential tests (`differential.rs`). It
//! shares no code with the crate: not its percent-coding, base64url, JSON,
//! parsing or types, only the `hmac` and `sha2` crates (and `serde_json` for
//! reading JSON, where the crate has its own reader). It favours the specs'
//! wording over speed.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// A key as the reference sees it.
pub(crate) struct RefKey {
    pub(crate) kid: &'static str,
    pub(crate) secret: &'static str,
    pub(crate) active: bool,
    pub(crate) expires_at: Option<u64>,
    pub(crate) scopes: &'static [&'static str],
}

/// What a verified URL hands downstream.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct RefVerified {
    /// `"EG1"` or `"EGJ1"`.
    pub(crate) scheme: &'static str,
    pub(crate) kid: String,
    pub(crate) sub: String,
    pub(crate) exp: u64,
    pub(crate) nonce: String,
    pub(crate) session: Option<u64>,
    pub(crate) attrs: Vec<(String, String)>,
    pub(crate) host: String,
    pub(crate) path: String,
    pub(crate) forward_query: String,
}

// ----- §2 byte classes -----

/// "the unreserved set (`A-Z a-z 0-9 - . _ ~`)"
fn unreserved(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._~".contains(&b)
}

/// "the sub-delimiters `!$&'()*+,;=`, `:`, `@` and `/`"
fn path_keeps(b: u8) -> bool {
    unreserved(b) || b"!$&'()*+,;=".contains(&b) || b == b':' || b == b'@' || b == b'/'
}

/// "a byte below 0x20 or 0x7F"
fn control(b: u8) -> bool {
    b < 0x20 || b == 0x7F
}

fn hex_digit(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// "`%XX` with upper-case hex"
fn upper_escape(b: u8) -> String {
    format!("%{b:02X}")
}

// ----- §2 host -----

/// "the URL's authority as the browser sends it in `Host`, lowercased; a
/// trailing `:80` or `:443` is removed." (The authority holds a name or
/// address and a port: letters, digits, `-._~`, `:`, `[`, `]`.)
fn canonical_host(authority: &str) -> Option<String> {
    if authority.is_empty() {
        return None;
    }
    for b in authority.bytes() {
        if !(unreserved(b) || b == b':' || b == b'[' || b == b']') {
            return None;
        }
    }
    let mut host = authority.to_lowercase();
    if host.ends_with(":80") {
        host.truncate(host.len() - 3);
    } else if host.ends_with(":443") {
        host.truncate(host.len() - 4);
    }
    Some(host)
}

// ----- §2 path -----

/// "the path, checked and normalised".
pub(crate) fn normalise_path(raw: &str) -> Option<String> {
    let raw = raw.as_bytes();
    // "it starts with `/`"
    if raw.first() != Some(&b'/') {
        return None;
    }
    // Decode every escape, remembering which bytes were escaped.
    let mut bytes: Vec<(u8, bool)> = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' {
            // "a `%` not followed by two hex digits"
            let hi = hex_digit(*raw.get(i + 1)?)?;
            let lo = hex_digit(*raw.get(i + 2)?)?;
            bytes.push((hi * 16 + lo, true));
            i += 3;
        } else {
            bytes.push((raw[i], false));
            i += 1;
        }
    }
    for &(b, escaped) in &bytes {
        // "an encoded slash or backslash (`%2F`, `%5C`)"
        if escaped && (b == b'/' || b == b'\\') {
            return None;
        }
        // "a literal backslash"
        if !escaped && b == b'\\' {
            return None;
        }
        // "a byte below 0x20 or 0x7F (literal or encoded)"
        if control(b) {
            return None;
        }
    }
    // Segments: split at the literal slashes (encoded ones were refused).
    let decoded: Vec<u8> = bytes.iter().map(|&(b, _)| b).collect();
    let segments: Vec<&[u8]> = decoded[1..].split(|&b| b == b'/').collect();
    for (k, segment) in segments.iter().enumerate() {
        // "a segment that is `.` or `..` once decoded and cut at its first `;`"
        let cut = match segment.iter().position(|&b| b == b';') {
            Some(at) => &segment[..at],
            None => segment,
        };
        if cut == b"." || cut == b".." {
            return None;
        }
        // "an empty segment other than a final one (`//`)"
        if segment.is_empty() && k + 1 != segments.len() {
            return None;
        }
    }
    // "escapes of unreserved characters are decoded; every other escape
    // keeps its byte with upper-case hex; every byte outside the unreserved
    // set, the sub-delimiters, `:`, `@` and `/` is percent-encoded"
    let mut out = String::new();
    for (b, escaped) in bytes {
        let literal = if escaped {
            unreserved(b)
        } else {
            path_keeps(b)
        };
        if literal {
            out.push(b as char);
        } else {
            out.push_str(&upper_escape(b));
        }
    }
    Some(out)
}

// ----- §2 query -----

/// Steps 1-3: the decoded `(name, value)` pieces of a raw query.
fn decoded_pairs(raw_query: &str) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut pairs = Vec::new();
    // "1. split the raw query on `&` and drop empty pieces"
    for piece in raw_query.split('&') {
        if piece.is_empty() {
            continue;
        }
        // "2. split each piece at its first `=`; a piece without `=` has the empty value"
        let (name, value) = match piece.find('=') {
            Some(at) => (&piece[..at], &piece[at + 1..]),
            None => (piece, ""),
        };
        // "3. percent-decode name and value, reading `+` as a space"
        pairs.push((percent_decode(name)?, percent_decode(value)?));
    }
    Some(pairs)
}

fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'%' => {
                let hi = hex_digit(*s.get(i + 1)?)?;
                let lo = hex_digit(*s.get(i + 2)?)?;
                out.push(hi * 16 + lo);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(out)
}

/// "4. encode name and value again: each byte of the unreserved set stays as
/// it is, every other byte becomes `%XX` with upper-case hex"
fn query_encode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if unreserved(b) {
                (b as char).to_string()
            } else {
                upper_escape(b)
            }
        })
        .collect()
}

/// Steps 4-5: encoded pairs, "sorted by encoded name, then by encoded
/// value, comparing bytes".
fn encoded_sorted(pairs: &[(Vec<u8>, Vec<u8>)]) -> Vec<(String, String)> {
    let mut encoded: Vec<(String, String)> = pairs
        .iter()
        .map(|(n, v)| (query_encode(n), query_encode(v)))
        .collect();
    encoded.sort();
    encoded
}

/// "6. join each pair as `name=value`, and the pairs with `&`."
fn join(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

// ----- URL parts -----

struct Parts {
    host: String,
    path: String,
    pairs: Vec<(Vec<u8>, Vec<u8>)>,
}

/// `scheme://authority/path?query#fragment`, each part canonicalised.
fn parts(url: &str) -> Option<Parts> {
    let sep = url.find("://")?;
    let scheme = &url[..sep];
    let mut chars = scheme.chars();
    if !chars.next()?.is_ascii_alphabetic()
        || !chars.all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '-' || c == '.')
    {
        return None;
    }
    let rest = &url[sep + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, target) = rest.split_at(authority_end);
    let target = target.split('#').next().unwrap_or("");
    let (raw_path, raw_query) = match target.find('?') {
        Some(at) => (&target[..at], &target[at + 1..]),
        None => (target, ""),
    };
    let raw_path = if raw_path.is_empty() { "/" } else { raw_path };
    Some(Parts {
        host: canonical_host(authority)?,
        path: normalise_path(raw_path)?,
        pairs: decoded_pairs(raw_query)?,
    })
}

/// "EG1-HMAC-SHA256 LF host LF path LF query", query "every parameter of
/// the URL except `eg_sig`".
fn sts_of(parts: &Parts) -> String {
    let signed: Vec<(Vec<u8>, Vec<u8>)> = parts
        .pairs
        .iter()
        .filter(|(n, _)| n.as_slice() != b"eg_sig")
        .cloned()
        .collect();
    format!(
        "EG1-HMAC-SHA256\n{}\n{}\n{}",
        parts.host,
        parts.path,
        join(&encoded_sorted(&signed))
    )
}

/// The string to sign of an absolute URL; `None` when it is malformed.
pub(crate) fn string_to_sign(url: &str) -> Option<String> {
    Some(sts_of(&parts(url)?))
}

fn hmac_sha256(secret: &str, message: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(message.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

// ----- base64url (RFC 4648 §5, unpadded) -----

const B64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn b64_encode(bytes: &[u8]) -> String {
    let mut bits = String::new();
    for b in bytes {
        bits.push_str(&format!("{b:08b}"));
    }
    while !bits.len().is_multiple_of(6) {
        bits.push('0');
    }
    (0..bits.len() / 6)
        .map(|k| {
            let v = usize::from_str_radix(&bits[6 * k..6 * k + 6], 2).expect("binary");
            B64.as_bytes()[v] as char
        })
        .collect()
}

/// `eg_sig`: "unpadded base64url of the 32-byte MAC, exactly 43 characters,
/// in its one canonical form (the last character carries no stray bits: it
/// is one of `AEIMQUYcgkosw048`)"
fn sig_decode(text: &str) -> Option<Vec<u8>> {
    if text.len() != 43 || !text.chars().all(|c| B64.contains(c)) {
        return None;
    }
    if !"AEIMQUYcgkosw048".contains(text.chars().last()?) {
        return None;
    }
    let mut bits = String::new();
    for c in text.chars() {
        bits.push_str(&format!("{:06b}", B64.find(c)?));
    }
    Some(
        (0..32)
            .map(|k| u8::from_str_radix(&bits[8 * k..8 * k + 8], 2).expect("binary"))
            .collect(),
    )
}

// ----- §1 parameters -----

/// "`A-Z a-z 0-9 _ -`"
fn token(s: &str, min: usize, max: usize) -> bool {
    s.len() >= min
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// "UTF-8 without control characters (bytes below 0x20, and 0x7F)"
fn text(bytes: &[u8]) -> Option<String> {
    let s = String::from_utf8(bytes.to_vec()).ok()?;
    if s.bytes().any(control) {
        return None;
    }
    Some(s)
}

/// "decimal, no sign, no leading zeros"
fn decimal(bytes: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(bytes).ok()?;
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

/// "NAME is 1–64 of `a-z 0-9 _ -`"
fn attr_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

struct Scheme {
    kid: String,
    sub: String,
    exp: u64,
    nonce: String,
    session: Option<u64>,
    attrs: Vec<(String, String)>,
    sig: Vec<u8>,
}

/// §1 and §3 step 1: the `eg_` parameters, each by its rule, once.
fn scheme_params(pairs: &[(Vec<u8>, Vec<u8>)]) -> Option<Scheme> {
    let mut seen: Vec<Vec<u8>> = Vec::new();
    let (mut kid, mut sub, mut exp, mut nonce, mut session, mut sig) =
        (None, None, None, None, None, None);
    let mut attrs = Vec::new();
    for (name, value) in pairs {
        if !name.starts_with(b"eg_") {
            continue;
        }
        // "any `eg_` name given twice makes the URL malformed"
        if seen.contains(name) {
            return None;
        }
        seen.push(name.clone());
        let name = std::str::from_utf8(name).ok()?;
        match name {
            "eg_kid" => {
                let v = std::str::from_utf8(value).ok()?;
                if !token(v, 1, 64) {
                    return None;
                }
                kid = Some(v.to_owned());
            }
            "eg_sub" => {
                let v = text(value)?;
                if v.is_empty() || v.len() > 256 {
                    return None;
                }
                sub = Some(v);
            }
            "eg_exp" => exp = Some(decimal(value)?),
            "eg_nonce" => {
                let v = std::str::from_utf8(value).ok()?;
                if !token(v, 16, 128) {
                    return None;
                }
                nonce = Some(v.to_owned());
            }
            "eg_session" => session = Some(decimal(value)?),
            "eg_sig" => sig = Some(sig_decode(std::str::from_utf8(value).ok()?)?),
            _ => {
                // "Any other `eg_` name ... makes the URL malformed."
                let attr = name.strip_prefix("eg_attr.")?;
                if !attr_name(attr) {
                    return None;
                }
                attrs.push((attr.to_owned(), text(value)?));
            }
        }
    }
    attrs.sort();
    Some(Scheme {
        kid: kid?,
        sub: sub?,
        exp: exp?,
        nonce: nonce?,
        session,
        attrs,
        sig: sig?,
    })
}

/// "`/d/sales` covers `/d/sales` and `/d/sales/x`": on a segment boundary.
fn in_scope(path: &str, scope: &str) -> bool {
    path == scope
        || (path.starts_with(scope)
            && (scope.ends_with('/') || path[scope.len()..].starts_with('/')))
}

/// Either spec's §3 without replay state: EGJ1 §1, "a URL with `eg_jwt`
/// is never read as EG1".
pub(crate) fn verify(
    url: &str,
    keys: &[RefKey],
    now: u64,
    skew: u64,
    max_url_ttl: u64,
) -> Result<RefVerified, &'static str> {
    let parts = parts(url).ok_or("malformed")?;
    if parts.pairs.iter().any(|(n, _)| n.as_slice() == b"eg_jwt") {
        verify_jwt(&parts, keys, now, skew, max_url_ttl)
    } else {
        verify_eg1(&parts, keys, now, skew, max_url_ttl)
    }
}

/// EG1 §3 without replay state (step 7 always passes): the verdict.
fn verify_eg1(
    parts: &Parts,
    keys: &[RefKey],
    now: u64,
    skew: u64,
    max_url_ttl: u64,
) -> Result<RefVerified, &'static str> {
    // 1
    let scheme = scheme_params(&parts.pairs).ok_or("malformed")?;
    // 2
    let key = keys
        .iter()
        .find(|k| k.kid == scheme.kid)
        .ok_or("unknown_key")?;
    // 3
    if !key.active || key.expires_at.is_some_and(|e| now > e) {
        return Err("key_inactive");
    }
    // 4
    if hmac_sha256(key.secret, &sts_of(parts)) != scheme.sig {
        return Err("bad_signature");
    }
    // 5 (in u128: no overflow to reason about)
    if u128::from(now) > u128::from(scheme.exp) + u128::from(skew) {
        return Err("expired");
    }
    // 6
    if u128::from(scheme.exp) > u128::from(now) + u128::from(max_url_ttl) + u128::from(skew) {
        return Err("exp_too_far");
    }
    // 8
    if !key.scopes.is_empty() && !key.scopes.iter().any(|s| in_scope(&parts.path, s)) {
        return Err("out_of_scope");
    }
    let content: Vec<(Vec<u8>, Vec<u8>)> = parts
        .pairs
        .iter()
        .filter(|(n, _)| !n.starts_with(b"eg_"))
        .cloned()
        .collect();
    Ok(RefVerified {
        scheme: "EG1",
        kid: scheme.kid,
        sub: scheme.sub,
        exp: scheme.exp,
        nonce: scheme.nonce,
        session: scheme.session,
        attrs: scheme.attrs,
        host: parts.host.clone(),
        path: parts.path.clone(),
        forward_query: join(&encoded_sorted(&content)),
    })
}

/// A signer by §1: the content URL's query gains the `eg_` parameters in
/// the table's order, then `eg_sig` over the string to sign of the result.
#[allow(clippy::too_many_arguments)]
pub(crate) fn sign(
    url: &str,
    kid: &str,
    secret: &str,
    sub: &str,
    exp: u64,
    nonce: &str,
    session: Option<u64>,
    attrs: &[(&str, &str)],
) -> Option<String> {
    let (base, fragment) = match url.find('#') {
        Some(at) => (&url[..at], &url[at..]),
        None => (url, ""),
    };
    let content = parts(base)?;
    if content.pairs.iter().any(|(n, _)| n.starts_with(b"eg_")) {
        return None;
    }
    if !token(kid, 1, 64) || !token(nonce, 16, 128) {
        return None;
    }
    if sub.is_empty() || sub.len() > 256 || text(sub.as_bytes()).is_none() {
        return None;
    }
    for (k, (name, value)) in attrs.iter().enumerate() {
        if !attr_name(name) || text(value.as_bytes()).is_none() {
            return None;
        }
        if attrs[..k].iter().any(|(n, _)| n == name) {
            return None;
        }
    }
    let mut params = vec![
        format!("eg_kid={kid}"),
        format!("eg_sub={}", query_encode(sub.as_bytes())),
        format!("eg_exp={exp}"),
        format!("eg_nonce={nonce}"),
    ];
    if let Some(s) = session {
        params.push(format!("eg_session={s}"));
    }
    for (name, value) in attrs {
        params.push(format!("eg_attr.{name}={}", query_encode(value.as_bytes())));
    }
    let separator = if base.contains('?') { "&" } else { "?" };
    let unsigned = format!("{base}{separator}{}", params.join("&"));
    let sts = string_to_sign(&unsigned)?;
    let sig = b64_encode(&hmac_sha256(secret, &sts));
    Some(format!("{unsigned}&eg_sig={sig}{fragment}"))
}

// ===== embed-jwt-v1.md (EGJ1-HS256) =====

/// A JSON value as RFC 8259 defines it, read with serde_json, except that
/// an object keeps its members in order (and a repeated name is refused
/// while reading), and a number is kept as what EGJ1 §1 asks of it.
#[derive(Debug)]
enum Json {
    Null,
    Bool,
    /// "Integers are JSON numbers without a fraction or exponent": serde_json
    /// hands those (when non-negative and within u64) to `visit_u64`.
    Integer(u64),
    /// Any other number: negative, with a fraction or exponent, or too large.
    OtherNumber,
    Str(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

struct JsonVisitor;

impl<'de> serde::de::Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Json, E> {
        Ok(Json::Bool)
    }
    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Integer(v))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Json, E> {
        Ok(Json::OtherNumber)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Json, E> {
        Ok(Json::OtherNumber)
    }
    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::Str(v.to_owned()))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(JsonSeed)? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut members: Vec<(String, Json)> = Vec::new();
        while let Some(name) = map.next_key::<String>()? {
            // "A JSON object with a repeated member name is malformed"
            if members.iter().any(|(n, _)| *n == name) {
                return Err(serde::de::Error::custom("repeated member name"));
            }
            let value = map.next_value_seed(JsonSeed)?;
            members.push((name, value));
        }
        Ok(Json::Object(members))
    }
}

struct JsonSeed;

impl<'de> serde::de::DeserializeSeed<'de> for JsonSeed {
    type Value = Json;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

/// The members of a JSON object, or `None` for bytes that are not one.
fn json_object(bytes: &[u8]) -> Option<Vec<(String, Json)>> {
    use serde::de::DeserializeSeed;
    let mut d = serde_json::Deserializer::from_slice(bytes);
    let value = JsonSeed.deserialize(&mut d).ok()?;
    d.end().ok()?;
    match value {
        Json::Object(members) => Some(members),
        _ => None,
    }
}

/// "Base64url parts are unpadded and canonical (no stray bits in the last
/// character, no `=`, no whitespace)."
fn b64_decode(text: &str) -> Option<Vec<u8>> {
    let mut bits = String::new();
    for c in text.chars() {
        bits.push_str(&format!("{:06b}", B64.find(c)?));
    }
    // Whole bytes, and what is left over is at most 4 zero bits.
    let whole = bits.len() / 8 * 8;
    if bits.len() - whole >= 6 || bits[whole..].contains('1') {
        return None;
    }
    Some(
        (0..whole / 8)
            .map(|k| u8::from_str_radix(&bits[8 * k..8 * k + 8], 2).expect("binary"))
            .collect(),
    )
}

/// "Integers are JSON numbers without a fraction or exponent, in 0 ..= 2^53."
fn json_integer(v: &Json) -> Option<u64> {
    match v {
        Json::Integer(n) if *n <= 1 << 53 => Some(*n),
        _ => None,
    }
}

fn json_str(v: &Json) -> Option<&str> {
    match v {
        Json::Str(s) => Some(s),
        _ => None,
    }
}

/// The claims of §1.
struct RefClaims {
    aud: String,
    path: String,
    params: Vec<(Vec<u8>, Vec<u8>)>,
    sub: String,
    exp: u64,
    jti: String,
    nbf: Option<u64>,
    session: Option<u64>,
    attrs: Vec<(String, String)>,
}

/// §1 "Claims", row by row.
fn claims(members: &[(String, Json)]) -> Option<RefClaims> {
    let get = |name: &str| members.iter().find(|(n, _)| n == name).map(|(_, v)| v);
    // aud: "the host the URL is served on"
    let aud = json_str(get("aud")?)?.to_owned();
    // path: "a `path` that EG1 §2 refuses is malformed"
    let path = normalise_path(json_str(get("path")?)?)?;
    // params: "each value a string or an array of strings; no name may start with `eg_`"
    let mut params = Vec::new();
    if let Some(v) = get("params") {
        let Json::Object(entries) = v else {
            return None;
        };
        for (name, value) in entries {
            if name.starts_with("eg_") {
                return None;
            }
            let values: Vec<&Json> = match value {
                Json::Array(items) => items.iter().collect(),
                other => vec![other],
            };
            for value in values {
                params.push((
                    name.as_bytes().to_vec(),
                    json_str(value)?.as_bytes().to_vec(),
                ));
            }
        }
    }
    // sub: "as `eg_sub` (a JSON string, 1–256 bytes, no control characters)"
    let sub = json_str(get("sub")?)?;
    if sub.is_empty() || sub.len() > 256 || text(sub.as_bytes()).is_none() {
        return None;
    }
    // exp: "an integer NumericDate"
    let exp = json_integer(get("exp")?)?;
    // jti: "as `eg_nonce` (16–128 of `A-Z a-z 0-9 _ -`)"
    let jti = json_str(get("jti")?)?;
    if !token(jti, 16, 128) {
        return None;
    }
    // nbf: "an integer NumericDate"
    let nbf = match get("nbf") {
        Some(v) => Some(json_integer(v)?),
        None => None,
    };
    // session: "an integer ≥ 0"
    let session = match get("session") {
        Some(v) => Some(json_integer(v)?),
        None => None,
    };
    // attrs: "names as EG1 `eg_attr.NAME`, values strings without control characters"
    let mut attrs = Vec::new();
    if let Some(v) = get("attrs") {
        let Json::Object(entries) = v else {
            return None;
        };
        for (name, value) in entries {
            if !attr_name(name) {
                return None;
            }
            attrs.push((name.clone(), text(json_str(value)?.as_bytes())?));
        }
    }
    attrs.sort();
    Some(RefClaims {
        aud,
        path,
        params,
        sub: sub.to_owned(),
        exp,
        jti: jti.to_owned(),
        nbf,
        session,
        attrs,
    })
}

/// EGJ1 §3 without replay state (step 9 always passes): the verdict.
fn verify_jwt(
    parts: &Parts,
    keys: &[RefKey],
    now: u64,
    skew: u64,
    max_url_ttl: u64,
) -> Result<RefVerified, &'static str> {
    // 1: "`eg_jwt` is the only query parameter, given once"
    if parts.pairs.len() != 1 || parts.pairs[0].0 != b"eg_jwt" {
        return Err("malformed");
    }
    // "three canonical base64url parts"
    let jwt = std::str::from_utf8(&parts.pairs[0].1).map_err(|_| "malformed")?;
    let pieces: Vec<&str> = jwt.split('.').collect();
    let [header_b64, payload_b64, sig_b64] = pieces[..] else {
        return Err("malformed");
    };
    let header = b64_decode(header_b64).ok_or("malformed")?;
    let payload = b64_decode(payload_b64).ok_or("malformed")?;
    // "The signature part is 43 characters."
    if sig_b64.len() != 43 {
        return Err("malformed");
    }
    let sig = b64_decode(sig_b64).ok_or("malformed")?;
    // "the header is a JSON object meeting §1"
    let header = json_object(&header).ok_or("malformed")?;
    let mut alg = None;
    let mut kid = None;
    for (name, value) in &header {
        match name.as_str() {
            "alg" => alg = Some(json_str(value).ok_or("malformed")?),
            "kid" => kid = Some(json_str(value).ok_or("malformed")?),
            // "`typ` ... `"JWT"` when present"
            "typ" if json_str(value) == Some("JWT") => {}
            // "Any other member ... makes the token malformed."
            _ => return Err("malformed"),
        }
    }
    // "`alg` exactly `"HS256"`"
    if alg != Some("HS256") {
        return Err("malformed");
    }
    // "`kid` ... as `eg_kid` in EG1"
    let kid = kid.ok_or("malformed")?;
    if !token(kid, 1, 64) {
        return Err("malformed");
    }
    // 2
    let key = keys.iter().find(|k| k.kid == kid).ok_or("unknown_key")?;
    // 3
    if !key.active || key.expires_at.is_some_and(|e| now > e) {
        return Err("key_inactive");
    }
    // 4: "HMAC-SHA256 over the ASCII bytes `<header>.<payload>`"
    if hmac_sha256(key.secret, &format!("{header_b64}.{payload_b64}")) != sig {
        return Err("bad_signature");
    }
    // 5
    let members = json_object(&payload).ok_or("malformed")?;
    let claims = claims(&members).ok_or("malformed")?;
    // 6
    if claims.aud != parts.host || claims.path != parts.path {
        return Err("bad_signature");
    }
    // 7 (in u128: no overflow to reason about)
    if u128::from(now) > u128::from(claims.exp) + u128::from(skew) {
        return Err("expired");
    }
    if claims
        .nbf
        .is_some_and(|nbf| u128::from(nbf) > u128::from(now) + u128::from(skew))
    {
        return Err("expired");
    }
    // 8
    if u128::from(claims.exp) > u128::from(now) + u128::from(max_url_ttl) + u128::from(skew) {
        return Err("exp_too_far");
    }
    // 10
    if !key.scopes.is_empty() && !key.scopes.iter().any(|s| in_scope(&parts.path, s)) {
        return Err("out_of_scope");
    }
    Ok(RefVerified {
        scheme: "EGJ1",
        kid: kid.to_owned(),
        sub: claims.sub,
        exp: claims.exp,
        nonce: claims.jti,
        session: claims.session,
        attrs: claims.attrs,
        host: parts.host.clone(),
        path: parts.path.clone(),
        // §2: "the query built from `params` exactly as EG1 §2 builds a canonical query"
        forward_query: join(&encoded_sorted(&claims.params)),
    })
}

/// A JSON string as Python's `json.dumps` writes it by default (and so
/// PyJWT): ASCII only, `\uXXXX` in lower-case hex for the rest.
fn json_text(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                for unit in c.encode_utf16(&mut [0; 2]) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
    out
}

/// A signer by EGJ1 §1, writing what `sdk/python`'s `sign_embed_jwt`
/// writes: the content URL's query as `params` (each name once, in the
/// order it first appears; a string, or an array when repeated), claims in
/// the order aud, path, params, sub, exp, jti, attrs, session; the header
/// `{"alg":"HS256","kid":…,"typ":"JWT"}`; the URL `scheme://authority` as
/// written, the normalised path, `?eg_jwt=`, any fragment.
#[allow(clippy::too_many_arguments)]
pub(crate) fn sign_jwt(
    url: &str,
    kid: &str,
    secret: &str,
    sub: &str,
    exp: u64,
    nonce: &str,
    session: Option<u64>,
    attrs: &[(&str, &str)],
) -> Option<String> {
    let (base, fragment) = match url.find('#') {
        Some(at) => (&url[..at], &url[at..]),
        None => (url, ""),
    };
    let content = parts(base)?;
    if content.pairs.iter().any(|(n, _)| n.starts_with(b"eg_")) {
        return None;
    }
    if !token(kid, 1, 64) || !token(nonce, 16, 128) {
        return None;
    }
    if sub.is_empty() || sub.len() > 256 || text(sub.as_bytes()).is_none() {
        return None;
    }
    for (k, (name, value)) in attrs.iter().enumerate() {
        if !attr_name(name) || text(value.as_bytes()).is_none() {
            return None;
        }
        if attrs[..k].iter().any(|(n, _)| n == name) {
            return None;
        }
    }
    if exp > 1 << 53 || session.is_some_and(|s| s > 1 << 53) {
        return None;
    }
    let mut params: Vec<(String, Vec<String>)> = Vec::new();
    for (name, value) in &content.pairs {
        let name = String::from_utf8(name.clone()).ok()?;
        let value = String::from_utf8(value.clone()).ok()?;
        match params.iter_mut().find(|(n, _)| *n == name) {
            Some((_, values)) => values.push(value),
            None => params.push((name, vec![value])),
        }
    }
    let mut claims = format!(
        "{{\"aud\":{},\"path\":{}",
        json_text(&content.host),
        json_text(&content.path)
    );
    if !params.is_empty() {
        let members: Vec<String> = params
            .iter()
            .map(|(name, values)| {
                let value = if values.len() == 1 {
                    json_text(&values[0])
                } else {
                    let items: Vec<String> = values.iter().map(|v| json_text(v)).collect();
                    format!("[{}]", items.join(","))
                };
                format!("{}:{value}", json_text(name))
            })
            .collect();
        claims.push_str(&format!(",\"params\":{{{}}}", members.join(",")));
    }
    claims.push_str(&format!(
        ",\"sub\":{},\"exp\":{exp},\"jti\":{}",
        json_text(sub),
        json_text(nonce)
    ));
    if !attrs.is_empty() {
        let members: Vec<String> = attrs
            .iter()
            .map(|(n, v)| format!("{}:{}", json_text(n), json_text(v)))
            .collect();
        claims.push_str(&format!(",\"attrs\":{{{}}}", members.join(",")));
    }
    if let Some(s) = session {
        claims.push_str(&format!(",\"session\":{s}"));
    }
    claims.push('}');
    let header = format!(
        "{{\"alg\":\"HS256\",\"kid\":{},\"typ\":\"JWT\"}}",
        json_text(kid)
    );
    let signing_input = format!(
        "{}.{}",
        b64_encode(header.as_bytes()),
        b64_encode(claims.as_bytes())
    );
    let sig = b64_encode(&hmac_sha256(secret, &signing_input));
    // `scheme://authority` as written: everything before the path.
    let sep = base.find("://")? + 3;
    let authority_end = base[sep..]
        .find(['/', '?'])
        .map_or(base.len(), |at| sep + at);
    Some(format!(
        "{}{}?eg_jwt={signing_input}.{sig}{fragment}",
        &base[..authority_end],
        content.path
    ))
}

/// A token from its parts, for the differential tests' hostile tokens:
/// the header and payload as given, signed under `secret`.
pub(crate) fn token_of(header: &str, payload: &str, secret: &str) -> String {
    let signing_input = format!(
        "{}.{}",
        b64_encode(header.as_bytes()),
        b64_encode(payload.as_bytes())
    );
    let sig = b64_encode(&hmac_sha256(secret, &signing_input));
    format!("{signing_input}.{sig}")
}
