//! Spec §2: from a URL (or a request's `Host` and target) to the canonical
//! host, path and query, and from those to the string to sign.
//!
//! Everything here works on decoded bytes so that re-ordering or re-encoding
//! a URL (lower-case hex, `+` for `%20`, an encoded `~`) never changes the
//! result, while any change to what the bytes *mean* does.

use core::ops::Range;

use crate::params::SIG_LEN;
use crate::percent::{
    escaped_byte, is_path_literal, is_unreserved, push_escape, recode_query_until,
};
use crate::reason::EmbedError;

/// The first line of every string to sign.
pub const SCHEME: &str = "EG1-HMAC-SHA256";

/// A URL split into its canonical parts.
///
/// `sts` is the string to sign; `params` index the encoded names and values
/// inside it, sorted. `eg_sig` is kept aside, since it is not signed.
#[derive(Clone, Debug)]
pub(crate) struct Canonical {
    /// `SCHEME LF host LF path LF query` (query without `eg_sig`).
    pub(crate) sts: String,
    pub(crate) host: Range<usize>,
    pub(crate) path: Range<usize>,
    /// Sorted parameters, ranges into `sts`, `eg_sig` excluded.
    pub(crate) params: Vec<Param>,
    pub(crate) sig: SigField,
}

/// What the query said about `eg_sig` (in canonical encoding).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SigField {
    Absent,
    /// Exactly one, of the right length (its alphabet is checked on decode).
    One([u8; SIG_LEN]),
    /// One, of the wrong length.
    WrongLength,
    /// More than one.
    Repeated,
}

#[derive(Clone, Debug)]
pub(crate) struct Param {
    pub(crate) name: Range<usize>,
    pub(crate) value: Range<usize>,
}

impl Canonical {
    pub(crate) fn name<'a>(&'a self, p: &Param) -> &'a str {
        &self.sts[p.name.clone()]
    }
    pub(crate) fn value<'a>(&'a self, p: &Param) -> &'a str {
        &self.sts[p.value.clone()]
    }
    pub(crate) fn path(&self) -> &str {
        &self.sts[self.path.clone()]
    }

    /// Builds the canonical form of a whole URL (`scheme://authority/path?query#fragment`).
    pub(crate) fn from_url(url: &str) -> Result<Self, EmbedError> {
        let (authority, path_and_query) = split_url(url)?;
        Canonical::from_request(authority, path_and_query)
    }

    /// Builds the canonical form of what a verifier receives: the `Host`
    /// header and the request target (`/path?query`, origin-form).
    pub(crate) fn from_request(host: &str, target: &str) -> Result<Self, EmbedError> {
        if target.len() > u32::MAX as usize {
            return Err(EmbedError::malformed("the URL is too long"));
        }
        // One scan finds where the path ends (`?` or `#`) and the query ends (`#`).
        let target = target.as_bytes();
        let path_end = target
            .iter()
            .position(|&b| b == b'?' || b == b'#')
            .unwrap_or(target.len());
        let raw_path = &target[..path_end];
        let raw_query: &[u8] = match target.get(path_end) {
            Some(b'?') => {
                let q = &target[path_end + 1..];
                // `contains` on bytes is a vectorised memchr; most targets have no `#`.
                if q.contains(&b'#') {
                    &q[..q.iter().position(|&b| b == b'#').unwrap_or(q.len())]
                } else {
                    q
                }
            }
            _ => b"",
        };
        let raw_path = if raw_path.is_empty() { b"/" } else { raw_path };

        // Room for the header, the path and the query even when escapes grow
        // them, so the buffer is allocated once.
        let mut sts: Vec<u8> =
            Vec::with_capacity(SCHEME.len() + host.len() + 2 * target.len() + 16);
        sts.extend_from_slice(SCHEME.as_bytes());
        sts.push(b'\n');
        let host_start = sts.len();
        push_host(&mut sts, host)?;
        let host_range = host_start..sts.len();
        sts.push(b'\n');
        let path_start = sts.len();
        push_path(&mut sts, raw_path)?;
        let path_range = path_start..sts.len();
        sts.push(b'\n');

        // One pass over the query. A component already in canonical form
        // (the usual case: signers emit it) is referenced where it stands;
        // only the others are decoded and re-encoded into `scratch`.
        let mut scratch: Vec<u8> = Vec::new();
        let mut pairs: Vec<RawPair> = Vec::with_capacity(12);
        let mut sig = SigField::Absent;
        let mut i = 0;
        while i < raw_query.len() {
            if raw_query[i] == b'&' {
                i += 1;
                continue;
            }
            let name = component(raw_query, &mut i, true, &mut scratch).ok_or(
                EmbedError::malformed("a query name has a % not followed by two hex digits"),
            )?;
            let value = if raw_query.get(i) == Some(&b'=') {
                i += 1;
                component(raw_query, &mut i, false, &mut scratch).ok_or(EmbedError::malformed(
                    "a query value has a % not followed by two hex digits",
                ))?
            } else {
                Span::EMPTY
            };
            let name_bytes = name.bytes(raw_query, &scratch);
            if name_bytes == b"eg_sig" {
                let v = value.bytes(raw_query, &scratch);
                sig = match (sig, v.len()) {
                    (SigField::Absent, SIG_LEN) => {
                        let mut s = [0u8; SIG_LEN];
                        s.copy_from_slice(v);
                        SigField::One(s)
                    }
                    (SigField::Absent, _) => SigField::WrongLength,
                    _ => SigField::Repeated,
                };
                continue;
            }
            pairs.push(RawPair {
                key: sort_key(name_bytes),
                name,
                value,
            });
        }
        pairs.sort_unstable_by(|a, b| {
            a.key.cmp(&b.key).then_with(|| {
                a.name
                    .bytes(raw_query, &scratch)
                    .cmp(b.name.bytes(raw_query, &scratch))
                    .then_with(|| {
                        a.value
                            .bytes(raw_query, &scratch)
                            .cmp(b.value.bytes(raw_query, &scratch))
                    })
            })
        });
        sts.reserve(raw_query.len() + scratch.len() + 2 * pairs.len());
        let mut params = Vec::with_capacity(pairs.len());
        for (k, p) in pairs.iter().enumerate() {
            if k > 0 {
                sts.push(b'&');
            }
            let n0 = sts.len();
            sts.extend_from_slice(p.name.bytes(raw_query, &scratch));
            let n1 = sts.len();
            sts.push(b'=');
            let v0 = sts.len();
            sts.extend_from_slice(p.value.bytes(raw_query, &scratch));
            params.push(Param {
                name: n0..n1,
                value: v0..sts.len(),
            });
        }
        Ok(Canonical {
            sts: ascii_string(sts),
            host: host_range,
            path: path_range,
            params,
            sig,
        })
    }

    /// The canonical query without the scheme's `eg_` parameters: what a
    /// verifier forwards to the content backend.
    pub(crate) fn content_query(&self) -> String {
        let mut out = String::with_capacity(self.sts.len() - self.path.end);
        for p in self
            .params
            .iter()
            .filter(|p| !self.name(p).starts_with("eg_"))
        {
            if !out.is_empty() {
                out.push('&');
            }
            out.push_str(&self.sts[p.name.start..p.value.end]);
        }
        out
    }
}

/// Where a canonical query component lives: in the raw query (it was
/// canonical already) or in the scratch buffer (it was re-encoded).
#[derive(Clone, Copy)]
struct Span {
    in_scratch: bool,
    start: u32,
    end: u32,
}

impl Span {
    const EMPTY: Span = Span {
        in_scratch: false,
        start: 0,
        end: 0,
    };

    fn bytes<'a>(&self, raw: &'a [u8], scratch: &'a [u8]) -> &'a [u8] {
        let src = if self.in_scratch { scratch } else { raw };
        &src[self.start as usize..self.end as usize]
    }
}

struct RawPair {
    /// The name's first eight bytes, big-endian: most comparisons end here.
    key: u64,
    name: Span,
    value: Span,
}

fn sort_key(name: &[u8]) -> u64 {
    let mut k = [0u8; 8];
    let n = name.len().min(8);
    k[..n].copy_from_slice(&name[..n]);
    u64::from_be_bytes(k)
}

/// Reads one query component from `raw[*i..]` up to `&` (or `=` when
/// `is_name`), advancing `*i` to that byte. Returns `None` on a bad escape.
fn component(raw: &[u8], i: &mut usize, is_name: bool, scratch: &mut Vec<u8>) -> Option<Span> {
    let start = *i;
    let mut clean = true;
    while let Some(&b) = raw.get(*i) {
        if is_unreserved(b) {
            *i += 1;
            continue;
        }
        if b == b'&' || (is_name && b == b'=') {
            break;
        }
        // Canonical escapes are upper-case and never of an unreserved byte.
        let canonical_escape = b == b'%'
            && matches!(
                (raw.get(*i + 1), raw.get(*i + 2)),
                (Some(&h), Some(&l)) if is_upper_hex(h) && is_upper_hex(l)
                    && escaped_byte(raw, *i).is_some_and(|d| !is_unreserved(d))
            );
        if canonical_escape {
            *i += 3;
        } else {
            clean = false;
            *i += 1;
        }
    }
    let end = *i;
    if clean {
        return Some(Span {
            in_scratch: false,
            start: start as u32,
            end: end as u32,
        });
    }
    let s0 = scratch.len();
    let mut j = 0;
    if !recode_query_until(scratch, &raw[start..end], &mut j, |_| false) {
        return None;
    }
    Some(Span {
        in_scratch: true,
        start: s0 as u32,
        end: scratch.len() as u32,
    })
}

fn is_upper_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'A'..=b'F').contains(&b)
}

/// Every byte the canonicaliser writes is ASCII (all else is escaped).
fn ascii_string(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| {
        // Unreachable by construction; degrade without panicking.
        String::from_utf8_lossy(e.as_bytes()).into_owned()
    })
}

/// Splits `scheme://authority/path?query#fragment` into authority and the
/// rest (which starts with `/`, `?`, `#` or is empty).
fn split_url(url: &str) -> Result<(&str, &str), EmbedError> {
    let Some(colon) = url.find(':').filter(|&c| url[c..].starts_with("://")) else {
        return Err(EmbedError::malformed(
            "not an absolute URL (expected scheme://host/path)",
        ));
    };
    let scheme = &url[..colon];
    let mut chars = scheme.bytes();
    let starts_alpha = chars.next().is_some_and(|b| b.is_ascii_alphabetic());
    if !starts_alpha || !chars.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    {
        return Err(EmbedError::malformed("the URL scheme is invalid"));
    }
    let rest = &url[colon + 3..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Ok((&rest[..end], &rest[end..]))
}

/// Host as the browser sends it, lowercased, without a default port.
fn push_host(out: &mut Vec<u8>, host: &str) -> Result<(), EmbedError> {
    if host.is_empty() {
        return Err(EmbedError::malformed("the URL has no host"));
    }
    if host.contains('@') {
        return Err(EmbedError::malformed(
            "the URL carries user information (user@host), which is not allowed",
        ));
    }
    let ok = host.bytes().all(|b| {
        b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b':' | b'[' | b']')
    });
    if !ok {
        return Err(EmbedError::malformed(
            "the host has characters a host cannot have",
        ));
    }
    let host = host
        .strip_suffix(":443")
        .or_else(|| host.strip_suffix(":80"))
        .unwrap_or(host);
    out.extend(host.bytes().map(|b| b.to_ascii_lowercase()));
    Ok(())
}

/// Spec §2 path: checked and normalised, appended to `out`.
pub(crate) fn push_path(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), EmbedError> {
    if bytes.first() != Some(&b'/') {
        return Err(EmbedError::malformed("the path does not start with /"));
    }
    let start = out.len();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'%' => {
                let Some(d) = escaped_byte(bytes, i) else {
                    return Err(EmbedError::malformed(
                        "the path has a % not followed by two hex digits",
                    ));
                };
                if d == b'/' || d == b'\\' {
                    return Err(EmbedError::malformed(
                        "the path has an encoded slash or backslash (%2F, %5C)",
                    ));
                }
                if d < 0x20 || d == 0x7F {
                    return Err(EmbedError::malformed(
                        "the path has an encoded control byte",
                    ));
                }
                if is_unreserved(d) {
                    out.push(d);
                } else {
                    push_escape(out, d);
                }
                i += 3;
            }
            b'\\' => return Err(EmbedError::malformed("the path has a backslash")),
            _ if b < 0x20 || b == 0x7F => {
                return Err(EmbedError::malformed("the path has a control byte"))
            }
            _ if is_path_literal(b) => {
                out.push(b);
                i += 1;
            }
            _ => {
                push_escape(out, b);
                i += 1;
            }
        }
    }
    // Segment rules are checked on the normalised form, so `%2E` counts as `.`.
    let norm = &out[start..];
    let mut segments = norm[1..].split(|&b| b == b'/').peekable();
    while let Some(seg) = segments.next() {
        if seg == b"." || seg == b".." {
            return Err(EmbedError::malformed(
                "the path has a dot segment (. or ..)",
            ));
        }
        if seg.is_empty() && segments.peek().is_some() {
            return Err(EmbedError::malformed("the path has an empty segment (//)"));
        }
    }
    Ok(())
}

/// Normalises a path by the spec's rules (for scopes and route prefixes).
///
/// ```
/// assert_eq!(embedgate_core::normalise_path("/d/sales%7e2/x%3a%41").unwrap(), "/d/sales~2/x%3AA");
/// assert!(embedgate_core::normalise_path("/d/../admin").is_err());
/// ```
pub fn normalise_path(raw: &str) -> Result<String, EmbedError> {
    let mut out = Vec::with_capacity(raw.len());
    push_path(&mut out, raw.as_bytes())?;
    Ok(ascii_string(out))
}

/// The string to sign for any absolute URL (spec §2), for debugging and for
/// the playground. It does not check the `eg_` parameters, only that the URL
/// can be canonicalised.
///
/// ```
/// let s = embedgate_core::string_to_sign("https://EMBED.example.com:443/d?b=2&a=1&eg_sig=x").unwrap();
/// assert_eq!(s, "EG1-HMAC-SHA256\nembed.example.com\n/d\na=1&b=2");
/// ```
pub fn string_to_sign(url: &str) -> Result<String, EmbedError> {
    Ok(Canonical::from_url(url)?.sts)
}

/// Whether `path` (normalised) lies under `prefix` (normalised), on a
/// segment boundary: `/d/sales` covers `/d/sales` and `/d/sales/x`, not
/// `/d/salesforce`.
pub fn path_in_scope(path: &str, prefix: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || prefix.ends_with('/') || rest.starts_with('/'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sts(url: &str) -> String {
        string_to_sign(url).expect("canonicalises")
    }

    #[test]
    fn query_rules() {
        assert_eq!(
            sts("https://h/p?b=%7e&a=1+2&&flag&a=0"),
            "EG1-HMAC-SHA256\nh\n/p\na=0&a=1%202&b=~&flag="
        );
        assert_eq!(sts("http://h:80"), "EG1-HMAC-SHA256\nh\n/\n");
        assert_eq!(sts("http://h:8080/#frag"), "EG1-HMAC-SHA256\nh:8080\n/\n");
    }

    #[test]
    fn path_rules() {
        for bad in [
            "/a/./b",
            "/a/%2e%2E/b",
            "/a%2fb",
            "/a%5Cb",
            "/a\\b",
            "//a",
            "/a//b",
            "/a%0Ab",
            "/a%7F",
            "/a%zz",
            "/a%2",
            "a",
            "/a\u{7f}",
        ] {
            assert!(normalise_path(bad).is_err(), "{bad:?} must be malformed");
        }
        assert_eq!(normalise_path("/a/b/").unwrap(), "/a/b/");
        assert_eq!(normalise_path("/a b/ü").unwrap(), "/a%20b/%C3%BC");
        assert_eq!(normalise_path("/%41%3a:@!").unwrap(), "/A%3A:@!");
        assert_eq!(normalise_path("/..a/.b").unwrap(), "/..a/.b");
    }

    #[test]
    fn scope_is_segment_aligned() {
        assert!(path_in_scope("/d/sales", "/d/sales"));
        assert!(path_in_scope("/d/sales/q", "/d/sales"));
        assert!(path_in_scope("/d/sales/q", "/d/"));
        assert!(!path_in_scope("/d/salesforce", "/d/sales"));
        assert!(!path_in_scope("/x", "/d"));
    }

    #[test]
    fn bad_urls() {
        for bad in [
            "embed.example.com/d",
            "1http://h/",
            "https:///p",
            "https://u@h/p",
            "https://h h/p",
        ] {
            assert!(string_to_sign(bad).is_err(), "{bad:?}");
        }
    }
}
