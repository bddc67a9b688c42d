//! The stateless session cookie a verified URL opens.
//!
//! Value: `v1.<payload>.<mac>`, both unpadded base64url. The payload is JSON
//! `{"k": kid, "s": sub, "a": [[name, value], …], "p": [scope prefixes],
//! "e": expiry, "i": issued at}`; the MAC is HMAC-SHA256 under the session key derived from
//! the secret `k` (see `secret_cache.rs`), over
//! `EG1-session LF cookie-name LF payload`, so a cookie of one route is
//! worthless under another. Nothing is kept server-side: a cookie lives
//! until its expiry, and dies at once when its secret is deleted,
//! deactivated or expires (its key leaves the cache, or turns unusable);
//! reactivating the secret does not revive it (it was issued before the
//! reactivation, which the store's change log dates).
//! The payload is readable by its holder (it holds what the signed URL
//! showed anyway), never forgeable.

use std::borrow::Cow;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::Mac;
use http::HeaderMap;
use serde::{Deserialize, Deserializer, Serialize};

use super::secret_cache::{CachedSecret, SecretCache};

/// What a new session carries, borrowed from the verified URL, the route
/// and the secret: opening one copies no string. (`Serialize` states the
/// payload format, which [`compact`] writes without serde.)
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Session<'a> {
    /// The secret's client id.
    #[serde(rename = "k")]
    pub kid: &'a str,
    /// The user.
    #[serde(rename = "s")]
    pub sub: &'a str,
    /// User attributes.
    #[serde(rename = "a")]
    pub attrs: Vec<(&'a str, &'a str)>,
    /// Normalised path prefixes the session may fetch.
    #[serde(rename = "p")]
    pub scope: Vec<&'a str>,
    /// Expiry, Unix seconds.
    #[serde(rename = "e")]
    pub exp: u64,
    /// When the session was opened, Unix seconds: a secret reactivated
    /// after it does not bring it back.
    #[serde(rename = "i")]
    pub issued: u64,
}

/// A session read back from a cookie. It borrows what it can from the
/// decoded payload (see [`PayloadBuf`]): the request path copies nothing it
/// does not send on.
#[derive(Debug, PartialEq, Eq, Deserialize)]
pub struct OpenedSession<'a> {
    /// The secret's client id.
    #[serde(rename = "k", borrow)]
    pub kid: Text<'a>,
    /// The user.
    #[serde(rename = "s", borrow)]
    pub sub: Text<'a>,
    /// User attributes.
    #[serde(rename = "a", borrow)]
    pub attrs: Vec<(Text<'a>, Text<'a>)>,
    /// Normalised path prefixes the session may fetch.
    #[serde(rename = "p", borrow)]
    pub scope: Vec<Text<'a>>,
    /// Expiry, Unix seconds.
    #[serde(rename = "e")]
    pub exp: u64,
    /// When the session was opened, Unix seconds.
    #[serde(rename = "i")]
    pub issued: u64,
}

/// A JSON string of a cookie payload: borrowed from the payload unless it
/// holds escapes.
#[derive(Debug, PartialEq, Eq)]
pub struct Text<'a>(Cow<'a, str>);

impl AsRef<str> for Text<'_> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Text<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Cow<'de, str>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Cow::Borrowed(v))
            }

            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v.to_owned()))
            }

            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v))
            }
        }
        d.deserialize_str(V).map(Text)
    }
}

/// Room to decode a cookie payload into: on the stack for the usual sizes,
/// on the heap past that.
pub struct PayloadBuf {
    stack: [u8; 1024],
    heap: Vec<u8>,
}

impl PayloadBuf {
    /// An empty buffer (nothing allocated).
    pub fn new() -> Self {
        PayloadBuf {
            stack: [0; 1024],
            heap: Vec::new(),
        }
    }

    /// Decodes base64url `text` into the buffer.
    fn decode(&mut self, text: &str) -> Result<&[u8], SessionError> {
        decode_b64(text, &mut self.stack, &mut self.heap)
    }
}

/// Why a request's session was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionError {
    /// No cookie, or one that does not parse or whose MAC fails.
    NoSession,
    /// Past its expiry.
    Expired,
    /// Its secret was deleted, deactivated or expired.
    Revoked,
}

/// Decodes unpadded base64url `text` into `stack`, or into `heap` when it
/// does not fit there. (The core's decoder refuses what the `base64`
/// crate's `URL_SAFE_NO_PAD` does, in about a fifth fewer instructions.)
fn decode_b64<'b>(
    text: &str,
    stack: &'b mut [u8],
    heap: &'b mut Vec<u8>,
) -> Result<&'b [u8], SessionError> {
    let len = embedgate_core::base64url_decoded_len(text.len());
    let out = if len <= stack.len() {
        stack
    } else {
        heap.resize(len, 0);
        heap.as_mut_slice()
    };
    let n = embedgate_core::base64url_decode_into(text.as_bytes(), out)
        .ok_or(SessionError::NoSession)?;
    Ok(&out[..n])
}

fn mac_input(mac: &mut super::secret_cache::HmacSha256, cookie_name: &str, payload_b64: &[u8]) {
    mac.update(b"EG1-session\n");
    mac.update(cookie_name.as_bytes());
    mac.update(b"\n");
    mac.update(payload_b64);
}

/// Replaces `out[start..]` with its unpadded base64url: encoded right after
/// itself, then moved over it, so it needs no buffer of its own.
fn encode_tail_b64(out: &mut Vec<u8>, start: usize) {
    let len = out.len() - start;
    // `encoded_len` is None only past usize::MAX; then nothing fits anyway.
    let b64_len = base64::encoded_len(len, false).unwrap_or(0);
    out.resize(start + len + b64_len, 0);
    let (data, b64) = out[start..].split_at_mut(len);
    let written = URL_SAFE_NO_PAD.encode_slice(data, b64).unwrap_or(0);
    out.copy_within(start + len..start + len + written, start);
    out.truncate(start + written);
}

/// Appends `session`, encoded and MAC'd as the value of cookie
/// `cookie_name`, to `out`.
fn push_sealed(out: &mut Vec<u8>, session: &Session<'_>, secret: &CachedSecret, cookie_name: &str) {
    out.extend_from_slice(b"v1.");
    let payload_start = out.len();
    compact::push(out, session);
    encode_tail_b64(out, payload_start);
    let mut mac = secret.session_mac();
    mac_input(&mut mac, cookie_name, &out[payload_start..]);
    out.push(b'.');
    let tag_start = out.len();
    out.extend_from_slice(&mac.finalize().into_bytes());
    encode_tail_b64(out, tag_start);
}

/// Encodes and MACs `session` as the value of cookie `cookie_name`.
#[cfg(test)]
pub fn seal(session: &Session<'_>, secret: &CachedSecret, cookie_name: &str) -> String {
    let mut out = Vec::new();
    push_sealed(&mut out, session, secret, cookie_name);
    String::from_utf8(out).unwrap_or_default()
}

/// The `Set-Cookie` header of a new session: name, sealed value and
/// attributes built in one buffer that becomes the header value as it is.
/// `None` if it is not a valid header value.
pub fn set_cookie_header(
    session: &Session<'_>,
    secret: &CachedSecret,
    cookie_name: &str,
    max_age: u64,
    insecure_dev: bool,
) -> Option<http::HeaderValue> {
    let mut out = Vec::with_capacity(384);
    out.extend_from_slice(cookie_name.as_bytes());
    out.push(b'=');
    push_sealed(&mut out, session, secret, cookie_name);
    push_attributes(&mut out, max_age, insecure_dev);
    http::HeaderValue::from_maybe_shared(bytes::Bytes::from(out)).ok()
}

fn push_attributes(out: &mut Vec<u8>, max_age: u64, insecure_dev: bool) {
    out.extend_from_slice(b"; Path=/; Max-Age=");
    push_decimal(out, max_age);
    out.extend_from_slice(if insecure_dev {
        b"; HttpOnly; SameSite=Lax"
    } else {
        b"; Secure; HttpOnly; SameSite=None; Partitioned"
    });
}

/// Appends the decimal digits of `n`, without the formatting machinery,
/// two at a time (half the divisions of one at a time).
fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    while n >= 100 {
        let pair = 2 * (n % 100) as usize;
        n /= 100;
        i -= 2;
        digits[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = 2 * n as usize;
        i -= 2;
        digits[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        i -= 1;
        digits[i] = b'0' + n as u8;
    }
    out.extend_from_slice(&digits[i..]);
}

/// The payload of a session as `serde_json::to_vec` writes it (the compact
/// form: fields in declaration order, no whitespace, serde_json's string
/// escapes), written straight into the cookie's buffer: what [`fast`]
/// reads back, without serde's machinery on the signed-URL path.
mod compact {
    use super::{push_decimal, Session};

    pub(super) fn push(out: &mut Vec<u8>, s: &Session<'_>) {
        out.extend_from_slice(b"{\"k\":");
        string(out, s.kid);
        out.extend_from_slice(b",\"s\":");
        string(out, s.sub);
        out.extend_from_slice(b",\"a\":[");
        for (i, (name, value)) in s.attrs.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'[');
            string(out, name);
            out.push(b',');
            string(out, value);
            out.push(b']');
        }
        out.extend_from_slice(b"],\"p\":[");
        for (i, prefix) in s.scope.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            string(out, prefix);
        }
        out.extend_from_slice(b"],\"e\":");
        push_decimal(out, s.exp);
        out.extend_from_slice(b",\"i\":");
        push_decimal(out, s.issued);
        out.push(b'}');
    }

    /// A JSON string with serde_json's escapes: `\"`, `\\`, the short forms
    /// `\b \f \n \r \t`, `\u00XX` (lower-case hex) for the other control
    /// characters, and everything else (DEL, non-ASCII) as it is.
    pub(super) fn string(out: &mut Vec<u8>, s: &str) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        out.push(b'"');
        let bytes = s.as_bytes();
        // Most strings need no escape: a pass without early exit (which
        // the compiler vectorises) tells, and they are copied whole.
        let plain = bytes.iter().fold(true, |plain, &b| {
            plain & (b >= 0x20 && b != b'"' && b != b'\\')
        });
        if plain {
            out.extend_from_slice(bytes);
            out.push(b'"');
            return;
        }
        let mut plain_from = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let short = match b {
                b'"' => b'"',
                b'\\' => b'\\',
                0x08 => b'b',
                0x0c => b'f',
                b'\n' => b'n',
                b'\r' => b'r',
                b'\t' => b't',
                0..=0x1f => b'u',
                _ => continue,
            };
            out.extend_from_slice(&bytes[plain_from..i]);
            plain_from = i + 1;
            if short == b'u' {
                let hex = [HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]];
                out.extend_from_slice(&[b'\\', b'u', b'0', b'0', hex[0], hex[1]]);
            } else {
                out.extend_from_slice(&[b'\\', short]);
            }
        }
        out.extend_from_slice(&bytes[plain_from..]);
        out.push(b'"');
    }
}

/// Characters of a valid tag: 32 bytes in unpadded base64url.
const TAG_B64_LEN: usize = 43;

/// `<payload>.<tag>` split at its first dot. A valid tag is
/// [`TAG_B64_LEN`] characters, so the dot is looked for there first, not
/// searched for through the payload. A value with another dot before that
/// one is refused all the same ([`SessionError::NoSession`]): a dot is not
/// base64url, so where the first dot's split leaves it in the tag, this
/// one leaves it in the payload, and either fails to decode.
fn split_payload_tag(rest: &str) -> Option<(&str, &str)> {
    let at = rest.len().checked_sub(TAG_B64_LEN + 1);
    match at.filter(|&at| rest.as_bytes()[at] == b'.') {
        // A dot is ASCII: both sides of it are character boundaries.
        Some(at) => Some((&rest[..at], &rest[at + 1..])),
        None => rest.split_once('.'),
    }
}

/// Checks a cookie value; on success returns the session (decoded into
/// `buf`) and its secret.
pub fn open<'b>(
    value: &str,
    cookie_name: &str,
    cache: &SecretCache,
    now: u64,
    buf: &'b mut PayloadBuf,
) -> Result<(OpenedSession<'b>, std::sync::Arc<CachedSecret>), SessionError> {
    let rest = value.strip_prefix("v1.").ok_or(SessionError::NoSession)?;
    let (payload, tag) = split_payload_tag(rest).ok_or(SessionError::NoSession)?;
    if payload.len() > 8192 {
        return Err(SessionError::NoSession);
    }
    let json = buf.decode(payload)?;
    // A valid tag is 32 bytes; anything up to 64 decodes on the stack, a
    // longer one (never valid) still decodes, so it is refused at the same
    // step as before.
    let (mut tag_stack, mut tag_heap) = ([0u8; 64], Vec::new());
    let tag = decode_b64(tag, &mut tag_stack, &mut tag_heap)?;
    // Only `k` is read before the MAC is checked, to find the key.
    let session = match fast::parse(json) {
        Some(session) => session,
        None => serde_json::from_slice(json).map_err(|_| SessionError::NoSession)?,
    };
    let secret = cache.get(&session.kid).ok_or(SessionError::Revoked)?;
    let mut mac = secret.session_mac();
    mac_input(&mut mac, cookie_name, payload.as_bytes());
    mac.verify_slice(tag).map_err(|_| SessionError::NoSession)?;
    if !secret.key().usable_at(now) || session.issued < secret.sessions_valid_from() {
        return Err(SessionError::Revoked);
    }
    if now >= session.exp {
        return Err(SessionError::Expired);
    }
    Ok((session, secret))
}

/// The payload exactly as [`seal`] writes it (serde_json's compact form:
/// the fields in order, no whitespace, numbers as plain digits), read in one
/// pass. Anything else (an escape in a string, a control character, other
/// spacing or order, a number out of range) gives `None`, and the full
/// parser decides: so whatever this accepts, serde_json reads the same.
mod fast {
    use std::borrow::Cow;

    use super::{OpenedSession, Text};

    /// The payload, checked as UTF-8 once as a whole (not string by
    /// string), and a position in it.
    struct Cursor<'a> {
        s: &'a str,
        i: usize,
    }

    impl<'a> Cursor<'a> {
        fn lit(&mut self, s: &[u8]) -> Option<()> {
            let end = self.i.checked_add(s.len())?;
            (self.s.as_bytes().get(self.i..end)? == s).then(|| self.i = end)
        }

        fn peek(&self) -> Option<u8> {
            self.s.as_bytes().get(self.i).copied()
        }

        fn text(&mut self) -> Option<Text<'a>> {
            self.lit(b"\"")?;
            let start = self.i;
            let rest = self.s.as_bytes().get(start..)?;
            let end = rest
                .iter()
                .position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
            if rest[end] != b'"' {
                return None;
            }
            self.i += end + 1;
            // Between two quotes (ASCII): character boundaries.
            let s = self.s.get(start..start + end)?;
            Some(Text(Cow::Borrowed(s)))
        }

        fn number(&mut self) -> Option<u64> {
            let rest = self.s.as_bytes().get(self.i..)?;
            // Digits are read as they are counted: one pass, not two.
            let (mut n, mut digits) = (0u64, 0);
            for &c in rest {
                let d = c.wrapping_sub(b'0');
                if d > 9 {
                    break;
                }
                n = n.checked_mul(10)?.checked_add(u64::from(d))?;
                digits += 1;
            }
            if digits == 0 || (digits > 1 && rest[0] == b'0') {
                return None;
            }
            self.i += digits;
            Some(n)
        }

        /// `[item, item, ...]`.
        fn list<T>(&mut self, mut item: impl FnMut(&mut Self) -> Option<T>) -> Option<Vec<T>> {
            self.lit(b"[")?;
            let mut out = Vec::new();
            if self.lit(b"]").is_some() {
                return Some(out);
            }
            loop {
                out.push(item(self)?);
                match self.peek()? {
                    b',' => self.i += 1,
                    b']' => {
                        self.i += 1;
                        return Some(out);
                    }
                    _ => return None,
                }
            }
        }
    }

    pub(super) fn parse(json: &[u8]) -> Option<OpenedSession<'_>> {
        // What this accepts is ASCII outside its strings: valid UTF-8 as a
        // whole exactly when every string is, so one check serves them all.
        let s = std::str::from_utf8(json).ok()?;
        let mut c = Cursor { s, i: 0 };
        c.lit(b"{\"k\":")?;
        let kid = c.text()?;
        c.lit(b",\"s\":")?;
        let sub = c.text()?;
        c.lit(b",\"a\":")?;
        let attrs = c.list(|c| {
            c.lit(b"[")?;
            let name = c.text()?;
            c.lit(b",")?;
            let value = c.text()?;
            c.lit(b"]")?;
            Some((name, value))
        })?;
        c.lit(b",\"p\":")?;
        let scope = c.list(Cursor::text)?;
        c.lit(b",\"e\":")?;
        let exp = c.number()?;
        c.lit(b",\"i\":")?;
        let issued = c.number()?;
        c.lit(b"}")?;
        (c.i == json.len()).then_some(OpenedSession {
            kid,
            sub,
            attrs,
            scope,
            exp,
            issued,
        })
    }
}

/// Whether the session may fetch `path` (normalised): inside its scope and
/// inside the secret's current scopes (which may have narrowed since).
pub fn covers(session: &OpenedSession<'_>, secret: &CachedSecret, path: &str) -> bool {
    session
        .scope
        .iter()
        .any(|p| embedgate_core::path_in_scope(path, p))
        && secret.key().covers(path)
}

/// The route's scope (prefix plus session paths) narrowed by the secret's
/// scopes: each pair keeps the narrower prefix when one contains the other.
pub fn scope_for<'a>(route_prefixes: &'a [String], secret_scopes: &'a [String]) -> Vec<&'a str> {
    if secret_scopes.is_empty() {
        return route_prefixes.iter().map(String::as_str).collect();
    }
    let mut out: Vec<&str> = Vec::new();
    for r in route_prefixes {
        for s in secret_scopes {
            let narrower = if embedgate_core::path_in_scope(r, s) {
                Some(r)
            } else if embedgate_core::path_in_scope(s, r) {
                Some(s)
            } else {
                None
            };
            if let Some(n) = narrower {
                if !out.contains(&n.as_str()) {
                    out.push(n);
                }
            }
        }
    }
    out
}

/// The first value of cookie `name` in the request's `Cookie` headers.
/// `name` holds no `=` (cookie names are tokens, see `config.rs`): so a
/// pair that starts with `name=` is one whose name, up to its first `=`,
/// is `name`, and no search for the `=` is needed.
pub fn find<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    debug_assert!(!name.contains('='), "cookie name {name:?}");
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(super::headers::cookie_pairs)
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

/// The `Set-Cookie` value.
#[cfg(test)]
pub fn set_cookie(name: &str, value: &str, max_age: u64, insecure_dev: bool) -> String {
    let mut out = format!("{name}={value}").into_bytes();
    push_attributes(&mut out, max_age, insecure_dev);
    String::from_utf8(out).unwrap_or_default()
}

/// The cookie name of a route.
pub fn cookie_name(base: &str, route: &str, insecure_dev: bool) -> String {
    if insecure_dev {
        format!("{base}-{route}")
    } else {
        format!("__Host-{base}-{route}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrowing() {
        let route = vec!["/d/".to_owned(), "/public/".to_owned()];
        assert_eq!(scope_for(&route, &[]), route);
        assert_eq!(scope_for(&route, &["/d/sales".to_owned()]), ["/d/sales"]);
        assert_eq!(scope_for(&route, &["/".to_owned()]), route);
        assert!(scope_for(&route, &["/x/".to_owned()]).is_empty());
    }

    #[test]
    fn finds_cookie() {
        let mut h = HeaderMap::new();
        h.append(
            http::header::COOKIE,
            "a=1; __Host-embedgate-d=v1.x.y".parse().expect("hv"),
        );
        assert_eq!(find(&h, "__Host-embedgate-d"), Some("v1.x.y"));
        assert_eq!(find(&h, "b"), None);
    }

    fn session<'a>(sub: &'a str, attrs: &[(&'a str, &'a str)], scope: &[&'a str]) -> Session<'a> {
        Session {
            kid: "eg_live_4f9c2a",
            sub,
            attrs: attrs.to_vec(),
            scope: scope.to_vec(),
            exp: 1_900_000_000,
            issued: 1_899_999_000,
        }
    }

    #[test]
    fn fast_parse_reads_what_seal_writes_as_serde_does() {
        let cases = [
            session(
                "user-42",
                &[("tenant", "acme"), ("role", "viewer")],
                &["/d/", "/public/"],
            ),
            session("", &[], &[]),
            session("zoë 東京", &[("é", "ü")], &["/d/sales"]),
            session("max", &[], &["/"]),
        ];
        for s in &cases {
            let json = serde_json::to_vec(s).unwrap_or_default();
            let full: OpenedSession<'_> = serde_json::from_slice(&json).expect("serde reads it");
            assert_eq!(fast::parse(&json).as_ref(), Some(&full), "{s:?}");
            assert_eq!(full.sub.as_ref(), s.sub);
        }
        let mut big = session("u", &[], &["/d/"]);
        big.exp = u64::MAX;
        let json = serde_json::to_vec(&big).unwrap_or_default();
        assert_eq!(fast::parse(&json).map(|s| s.exp), Some(u64::MAX));
    }

    #[test]
    fn fast_parse_leaves_everything_else_to_serde() {
        // Escapes: the fast path declines, serde_json decodes them.
        let escaped = session("a\"b\\c\u{1}", &[("n", "line\nbreak")], &["/d/"]);
        let json = serde_json::to_vec(&escaped).unwrap_or_default();
        assert_eq!(fast::parse(&json), None);
        let full: OpenedSession<'_> = serde_json::from_slice(&json).expect("serde reads it");
        assert_eq!(full.sub.as_ref(), escaped.sub);
        assert_eq!(full.attrs[0].1.as_ref(), "line\nbreak");
        // Other shapes, valid or not, are serde_json's to judge.
        for other in [
            r#"{"k": "a","s":"b","a":[],"p":[],"e":1,"i":1}"#,
            r#"{"s":"b","k":"a","a":[],"p":[],"e":1,"i":1}"#,
            r#"{"k":"a","s":"b","a":[],"p":[],"e":01,"i":1}"#,
            r#"{"k":"a","s":"b","a":[],"p":[],"e":18446744073709551616,"i":1}"#,
            r#"{"k":"a","s":"b","a":[],"p":[],"e":1.0,"i":1}"#,
            r#"{"k":"a","s":"b","a":[],"p":[],"e":1,"i":1} "#,
            r#"{"k":"a","s":"b","a":[],"p":[],"e":1,"i":1}x"#,
            r#"{"k":"a","s":"b","a":[["x"]],"p":[],"e":1,"i":1}"#,
            r#"{"k":"a","s":"b","a":[],"p":[,],"e":1,"i":1}"#,
            r#"{"k":"a","s":"b","a":[],"p":[],"e":1}"#,
            r#"{"k":"a","s":"b","a":[],"p":[],"e":-1,"i":1}"#,
            "{\"k\":\"a\u{0}\",\"s\":\"b\",\"a\":[],\"p\":[],\"e\":1,\"i\":1}",
            "",
            "{",
        ] {
            assert_eq!(fast::parse(other.as_bytes()), None, "{other}");
        }
        assert_eq!(
            fast::parse(b"{\"k\":\"\xff\",\"s\":\"b\",\"a\":[],\"p\":[],\"e\":1,\"i\":1}"),
            None
        );
    }

    /// Strings of what JSON escapes (quotes, backslashes, every control
    /// character), DEL, multi-byte UTF-8 and plain text, of 0 to 11 chars.
    fn tricky_strings(seed: u64, count: usize) -> Vec<String> {
        let mut alphabet: Vec<char> = (0u8..0x20).map(char::from).collect();
        alphabet.extend(['"', '\\', '/', '\u{7f}', 'a', 'Z', '0', ' ', '=', ';', '%']);
        alphabet.extend(['é', 'ü', '東', '\u{2028}', '\u{feff}', '😀', '\u{10ffff}']);
        let mut x = seed | 1;
        let mut next = move || {
            // xorshift64: deterministic, so a failure reproduces.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        (0..count)
            .map(|_| {
                let len = (next() % 12) as usize;
                (0..len)
                    .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                    .collect()
            })
            .collect()
    }

    #[test]
    fn compact_strings_are_serde_jsons() {
        let mut all = tricky_strings(0x9e37_79b9_7f4a_7c15, 20_000);
        all.extend((0u8..=0x7f).map(|b| char::from(b).to_string()));
        all.push(String::new());
        for text in &all {
            let mut ours = Vec::new();
            compact::string(&mut ours, text);
            let theirs = serde_json::to_vec(text).unwrap_or_default();
            assert_eq!(ours, theirs, "{text:?}");
        }
    }

    #[test]
    fn compact_payloads_are_serde_jsons() {
        let texts = tricky_strings(42, 4000);
        let mut pick = texts.iter().cycle();
        let mut next = || pick.next().map_or("", String::as_str);
        let numbers = [
            0,
            1,
            9,
            10,
            1_899_999_000,
            u64::from(u32::MAX) + 1,
            u64::MAX,
        ];
        for round in 0..500 {
            let attrs = (0..round % 4).map(|_| (next(), next())).collect();
            let scope = (0..round % 3).map(|_| next()).collect();
            let s = Session {
                kid: next(),
                sub: next(),
                attrs,
                scope,
                exp: numbers[round % numbers.len()],
                issued: numbers[(round / 7) % numbers.len()],
            };
            let mut ours = Vec::new();
            compact::push(&mut ours, &s);
            let theirs = serde_json::to_vec(&s).unwrap_or_default();
            assert_eq!(ours, theirs, "{s:?}");
            // And it reads back as the session it is.
            let back: OpenedSession<'_> = serde_json::from_slice(&ours).expect("valid JSON");
            assert_eq!((back.kid.as_ref(), back.sub.as_ref()), (s.kid, s.sub));
            let back_attrs = back.attrs.iter().map(|(n, v)| (n.as_ref(), v.as_ref()));
            assert!(back_attrs.eq(s.attrs.iter().copied()));
            assert!(back
                .scope
                .iter()
                .map(|p| p.as_ref())
                .eq(s.scope.iter().copied()));
            assert_eq!((back.exp, back.issued), (s.exp, s.issued));
        }
    }

    #[test]
    fn sealed_payload_is_the_base64_of_serde_json() {
        let cache = SecretCache::new(Vec::new());
        cache.reload_blocking(&OneSecret).expect("loads");
        let secret = cache.get("eg_live_4f9c2a").expect("cached");
        let long = "x\"y".repeat(700);
        for s in [
            session("user-42", &[("tenant", "acme")], &["/d/", "/public/"]),
            session("", &[], &[]),
            session("a\u{1}b\\c", &[("\n", "zoë 東京"), ("k", &long)], &["/d/"]),
        ] {
            let value = seal(&s, &secret, "embedgate-d");
            let payload = value
                .strip_prefix("v1.")
                .and_then(|v| v.split_once('.'))
                .map(|(p, _)| p);
            let json = serde_json::to_vec(&s).unwrap_or_default();
            assert_eq!(payload, Some(URL_SAFE_NO_PAD.encode(json).as_str()));
        }
    }

    #[test]
    fn set_cookie_attributes() {
        assert_eq!(
            set_cookie("__Host-embedgate-d", "v1.a.b", 3600, false),
            "__Host-embedgate-d=v1.a.b; Path=/; Max-Age=3600; Secure; HttpOnly; SameSite=None; Partitioned"
        );
        assert_eq!(
            set_cookie("embedgate-d", "v1.a.b", 60, true),
            "embedgate-d=v1.a.b; Path=/; Max-Age=60; HttpOnly; SameSite=Lax"
        );
        for n in [
            0,
            7,
            9,
            10,
            11,
            99,
            100,
            101,
            999,
            1000,
            3599,
            1_900_000_000,
            u64::MAX,
        ]
        .into_iter()
        .chain((0..64).map(|b| 1u64 << b))
        .chain((1..20).flat_map(|e| [10u64.pow(e) - 1, 10u64.pow(e)]))
        {
            assert_eq!(
                set_cookie("n", "v", n, true),
                format!("n=v; Path=/; Max-Age={n}; HttpOnly; SameSite=Lax")
            );
        }
    }

    struct OneSecret;

    impl crate::serve::SecretSource for OneSecret {
        fn revision(&self) -> anyhow::Result<u64> {
            Ok(1)
        }
        fn load_embed_keys(&self) -> anyhow::Result<(u64, Vec<crate::serve::SecretRecord>)> {
            Ok((
                1,
                vec![crate::serve::SecretRecord {
                    client_id: "eg_live_4f9c2a".to_owned(),
                    value: zeroize::Zeroizing::new("q7Vt2mXc9LpR4sZb8NwK3yHd6FgJ1aEo".to_owned()),
                    active: true,
                    expires_at: None,
                    scopes: Vec::new(),
                    reactivated_at: None,
                }],
            ))
        }
        fn credential_value(&self, _: &str) -> anyhow::Result<Option<zeroize::Zeroizing<String>>> {
            Ok(None)
        }
        fn record_embed_usage(&self, _: &[(String, i64)]) -> anyhow::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn sealed_cookies_open_and_tampered_ones_do_not() {
        let cache = SecretCache::new(Vec::new());
        cache.reload_blocking(&OneSecret).expect("loads");
        let secret = cache.get("eg_live_4f9c2a").expect("cached");
        let now = 1_899_999_500;
        // A payload past the stack buffer takes the heap.
        let long_attr = "v".repeat(3000);
        for s in [
            session("user-42", &[("tenant", "acme")], &["/d/"]),
            session("q\"uote", &[], &["/d/"]),
            session("u", &[("big", &long_attr)], &["/d/"]),
        ] {
            let value = seal(&s, &secret, "embedgate-d");
            let header = set_cookie_header(&s, &secret, "embedgate-d", 60, true).expect("valid");
            assert_eq!(
                header.to_str().ok(),
                Some(set_cookie("embedgate-d", &value, 60, true).as_str())
            );
            let mut buf = PayloadBuf::new();
            let (opened, _) = open(&value, "embedgate-d", &cache, now, &mut buf).expect("opens");
            assert_eq!(opened.sub.as_ref(), s.sub);
            assert_eq!(opened.attrs.len(), s.attrs.len());
            assert!(opened
                .attrs
                .iter()
                .zip(&s.attrs)
                .all(|(a, b)| a.0.as_ref() == b.0 && a.1.as_ref() == b.1));
            // Another route's name, a changed payload, a truncated or
            // over-long tag: no session.
            let mut buf = PayloadBuf::new();
            assert_eq!(
                open(&value, "embedgate-x", &cache, now, &mut buf).err(),
                Some(SessionError::NoSession)
            );
            let (head, tag) = value.rsplit_once('.').expect("tag");
            let (mid, payload_end) = head.split_at(head.len() / 2);
            for bad in [
                format!("{head}.{}", &tag[1..]),
                format!("{head}.{tag}{}", "A".repeat(100)),
                format!("{}x.{tag}", &head[..head.len() - 1]),
                // A second dot, in the payload or in the tag.
                format!("{mid}.{payload_end}.{tag}"),
                format!("{head}.{}.{}", &tag[..20], &tag[20..]),
                format!("{head}.{tag}."),
            ] {
                let mut buf = PayloadBuf::new();
                assert_eq!(
                    open(&bad, "embedgate-d", &cache, now, &mut buf).err(),
                    Some(SessionError::NoSession),
                    "{bad}"
                );
            }
            let mut buf = PayloadBuf::new();
            assert_eq!(
                open(&value, "embedgate-d", &cache, 1_900_000_000, &mut buf).err(),
                Some(SessionError::Expired)
            );
        }
    }
}
