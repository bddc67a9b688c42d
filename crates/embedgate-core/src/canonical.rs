//! Spec §2: from a URL (or a request's `Host` and target) to the canonical
//! host, path and query, and from those to the string to sign.
//!
//! Everything here works on decoded bytes so that re-ordering or re-encoding
//! a URL (lower-case hex, `+` for `%20`, an encoded `~`) never changes the
//! result, while any change to what the bytes *mean* does.

use core::ops::Range;

use crate::params::SIG_LEN;
use crate::percent::{
    escaped_byte, is_host_byte, is_path_literal, is_unreserved, push_escape, unreserved_run_end,
};
use crate::query::canonical_query;
use crate::reason::EmbedError;

/// The first line of every string to sign.
pub const SCHEME: &str = "EG1-HMAC-SHA256";

/// A byte range of [`Canonical::buf`]. `u32` keeps a [`Param`] at 16 bytes;
/// longer URLs are refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: u32,
    pub(crate) end: u32,
}

impl Span {
    pub(crate) fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }

    // Every index passed here is below `Canonical::MAX_LEN`.
    pub(crate) fn of(range: Range<usize>) -> Span {
        Span {
            start: range.start as u32,
            end: range.end as u32,
        }
    }
}

/// One query parameter of the string to sign: encoded name and value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Param {
    pub(crate) name: Span,
    pub(crate) value: Span,
}

/// A URL split into its canonical parts.
///
/// `buf[..sts_end]` is the string to sign; `params` index the encoded names
/// and values inside it, sorted. Extracting the `eg_` parameters may append
/// the decoded text of `eg_sub` and `eg_attr.*` values after `sts_end` and
/// point those parameters' value spans there (see `params.rs`), so a
/// verified URL owns one buffer for everything it hands out. `eg_sig` is
/// kept aside, since it is not signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Canonical {
    pub(crate) buf: String,
    pub(crate) sts_end: usize,
    pub(crate) host: Range<usize>,
    pub(crate) path: Range<usize>,
    /// Where the query starts in `buf` (after the third line feed).
    pub(crate) query_start: usize,
    /// Sorted by encoded name, then value; `eg_sig` excluded.
    pub(crate) params: Vec<Param>,
    /// Index of the first parameter whose name is at or after `eg_`: the
    /// scheme's own parameters form one run from there, since names sort.
    pub(crate) first_embed: usize,
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

impl Canonical {
    /// Longest request target accepted; keeps every index of `buf` in a `u32`
    /// (escapes can triple a component, and decoded text is appended).
    const MAX_LEN: usize = (u32::MAX / 8) as usize;

    /// The string to sign.
    pub(crate) fn sts(&self) -> &str {
        &self.buf[..self.sts_end]
    }
    // Not inlined in WebAssembly: every accessor of a verified URL goes
    // through here, and one copy of the bounds checks keeps the package small.
    #[cfg_attr(target_arch = "wasm32", inline(never))]
    pub(crate) fn text(&self, span: Span) -> &str {
        // Spans are made on char boundaries of this buffer; `get` keeps
        // the panic path out.
        self.buf.get(span.range()).unwrap_or_default()
    }
    pub(crate) fn name(&self, p: &Param) -> &str {
        self.text(p.name)
    }
    pub(crate) fn path(&self) -> &str {
        &self.buf[self.path.clone()]
    }
    pub(crate) fn host(&self) -> &str {
        &self.buf[self.host.clone()]
    }

    /// Builds the canonical form of a whole URL (`scheme://authority/path?query#fragment`).
    pub(crate) fn from_url(url: &str) -> Result<Self, EmbedError> {
        let (authority, path_and_query) = split_url(url)?;
        Canonical::from_request(authority, path_and_query)
    }

    /// Builds the canonical form of what a verifier receives: the `Host`
    /// header and the request target (`/path?query`, origin-form).
    pub(crate) fn from_request(host: &str, target: &str) -> Result<Self, EmbedError> {
        if target.len() + host.len() > Self::MAX_LEN {
            return Err(EmbedError::malformed("the URL is too long"));
        }
        let target = target.as_bytes();
        // Room for the header, the path, the query and decoded `eg_` values
        // in the usual case, so the buffer is allocated once.
        let mut buf: Vec<u8> =
            Vec::with_capacity(SCHEME.len() + host.len() + 2 * target.len() + 16);
        buf.extend_from_slice(SCHEME.as_bytes());
        buf.push(b'\n');
        let host_start = buf.len();
        push_host(&mut buf, host)?;
        let host_range = host_start..buf.len();
        buf.push(b'\n');
        let path_start = buf.len();
        // The path ends at `?` or `#`; an empty one is `/`.
        let path_end = match target.first() {
            None | Some(b'?' | b'#') => {
                buf.push(b'/');
                0
            }
            Some(_) => push_path(&mut buf, target, PathEnd::AtQuery)?,
        };
        let path_range = path_start..buf.len();
        buf.push(b'\n');
        let query_start = buf.len();
        // The query parser stops at a `#` itself.
        let raw_query: &[u8] = match target.get(path_end) {
            Some(b'?') => &target[path_end + 1..],
            _ => b"",
        };

        let (params, first_embed, sig) = canonical_query(raw_query, &mut buf)?;
        let sts_end = buf.len();
        Ok(Canonical {
            buf: ascii_string(buf),
            sts_end,
            host: host_range,
            path: path_range,
            query_start,
            params,
            first_embed,
            sig,
        })
    }

    /// The canonical query without `params[skip]` (the scheme's `eg_`
    /// run), as the runs before and after it (either may be empty): what a
    /// verifier forwards to the content backend.
    pub(crate) fn query_around(&self, skip: Range<usize>) -> (&str, &str) {
        let ps = &self.params;
        let run = |a: &Param, b: &Param| {
            self.buf
                .get(a.name.start as usize..b.value.end as usize)
                .unwrap_or_default()
        };
        let before = match skip.start {
            0 => "",
            n => run(&ps[0], &ps[n - 1]),
        };
        let after = match ps.get(skip.end..) {
            Some([first, .., last]) => run(first, last),
            Some([only]) => run(only, only),
            _ => "",
        };
        (before, after)
    }
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
    // Byte searches, not `str::find(char)`: the char searcher would add a
    // KB to the WebAssembly package.
    let Some(colon) = url
        .bytes()
        .position(|b| b == b':')
        .filter(|&c| url[c..].starts_with("://"))
    else {
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
    let end = rest
        .bytes()
        .position(|b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    Ok((&rest[..end], &rest[end..]))
}

/// Host as the browser sends it, lowercased, without a default port.
fn push_host(out: &mut Vec<u8>, host: &str) -> Result<(), EmbedError> {
    if host.is_empty() {
        return Err(EmbedError::malformed("the URL has no host"));
    }
    let bytes = host.as_bytes();
    let mut i = unreserved_run_end(bytes, 0);
    while i < bytes.len() && is_host_byte(bytes[i]) {
        i = unreserved_run_end(bytes, i + 1);
    }
    if i < bytes.len() {
        return Err(EmbedError::malformed(if host.as_bytes().contains(&b'@') {
            "the URL carries user information (user@host), which is not allowed"
        } else {
            "the host has characters a host cannot have"
        }));
    }
    let host = host
        .strip_suffix(":443")
        .or_else(|| host.strip_suffix(":80"))
        .unwrap_or(host);
    let start = out.len();
    out.extend_from_slice(host.as_bytes());
    out[start..].make_ascii_lowercase();
    Ok(())
}

/// What ends a path: the end of its text, or (in a request target) the
/// first `?` or `#`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathEnd {
    AtEnd,
    AtQuery,
}

/// Spec §2 path: checked and normalised, appended to `out`. Returns where
/// the path ended in `bytes`.
///
/// One pass over unreserved runs a word at a time: a stop byte that a
/// normalised path carries literally (`/`, sub-delimiters) extends the run,
/// which is copied at the first byte that changes (an escape) or at the
/// end. Segments are checked at each `/` as the scan passes; the raw
/// segment is the normalised one unless an escape was decoded, and then the
/// output is checked again (`%2E` is a `.`).
pub(crate) fn push_path(
    out: &mut Vec<u8>,
    bytes: &[u8],
    end: PathEnd,
) -> Result<usize, EmbedError> {
    if bytes.first() != Some(&b'/') {
        return Err(EmbedError::malformed("the path does not start with /"));
    }
    let start = out.len();
    let mut run = 0;
    let mut seg = 1;
    let mut decoded = false;
    let mut i = unreserved_run_end(bytes, 1);
    let path_end = loop {
        let Some(&b) = bytes.get(i) else { break i };
        match b {
            b'/' => {
                check_segment(&bytes[seg..i], false)?;
                seg = i + 1;
                i += 1;
            }
            b'?' | b'#' if end == PathEnd::AtQuery => break i,
            b'%' => {
                out.extend_from_slice(&bytes[run..i]);
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
                decoded = true;
                i += 3;
                run = i;
            }
            b'\\' => return Err(EmbedError::malformed("the path has a backslash")),
            _ if b < 0x20 || b == 0x7F => {
                return Err(EmbedError::malformed("the path has a control byte"))
            }
            _ if is_path_literal(b) => i += 1,
            _ => {
                out.extend_from_slice(&bytes[run..i]);
                push_escape(out, b);
                i += 1;
                run = i;
            }
        }
        i = unreserved_run_end(bytes, i);
    };
    out.extend_from_slice(&bytes[run..path_end]);
    check_segment(&bytes[seg..path_end], true)?;
    if decoded {
        check_segments(&out[start..])?;
    }
    Ok(path_end)
}

/// One segment's rules: not `.` or `..`, and not empty unless it is the
/// last (a trailing `/`).
fn check_segment(seg: &[u8], last: bool) -> Result<(), EmbedError> {
    if seg == b"." || seg == b".." {
        return Err(EmbedError::malformed(
            "the path has a dot segment (. or ..)",
        ));
    }
    if seg.is_empty() && !last {
        return Err(EmbedError::malformed("the path has an empty segment (//)"));
    }
    Ok(())
}

/// Segment rules, checked on the normalised form so `%2E` counts as `.`:
/// no `.` or `..` segment, and no empty segment but a trailing one.
fn check_segments(norm: &[u8]) -> Result<(), EmbedError> {
    let mut seg_start = 1;
    loop {
        let seg_end = norm[seg_start..]
            .iter()
            .position(|&b| b == b'/')
            .map_or(norm.len(), |n| seg_start + n);
        let last = seg_end == norm.len();
        check_segment(&norm[seg_start..seg_end], last)?;
        if last {
            return Ok(());
        }
        seg_start = seg_end + 1;
    }
}

/// Normalises a path by the spec's rules (for scopes and route prefixes).
///
/// ```
/// assert_eq!(embedgate_core::normalise_path("/d/sales%7e2/x%3a%41").unwrap(), "/d/sales~2/x%3AA");
/// assert!(embedgate_core::normalise_path("/d/../admin").is_err());
/// ```
pub fn normalise_path(raw: &str) -> Result<String, EmbedError> {
    let mut out = Vec::with_capacity(raw.len());
    push_path(&mut out, raw.as_bytes(), PathEnd::AtEnd)?;
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
    let Canonical {
        mut buf, sts_end, ..
    } = Canonical::from_url(url)?;
    buf.truncate(sts_end);
    Ok(buf)
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

    /// The path rules byte by byte, as spec §2 words them: decode every
    /// escape, re-encode, then check the segments.
    fn path_by_the_letter(raw: &[u8]) -> Option<Vec<u8>> {
        if raw.first() != Some(&b'/') {
            return None;
        }
        let mut out = Vec::new();
        let mut i = 0;
        while let Some(&b) = raw.get(i) {
            let d = if b == b'%' {
                let d = escaped_byte(raw, i)?;
                if matches!(d, b'/' | b'\\' | 0..=0x1F | 0x7F) {
                    return None;
                }
                i += 2;
                d
            } else if matches!(b, b'\\' | 0..=0x1F | 0x7F) {
                return None;
            } else {
                b
            };
            let literal = if b == b'%' {
                is_unreserved(d)
            } else {
                is_path_literal(d)
            };
            if literal {
                out.push(d);
            } else {
                push_escape(&mut out, d);
            }
            i += 1;
        }
        let segs: Vec<&[u8]> = out[1..].split(|&b| b == b'/').collect();
        for (k, seg) in segs.iter().enumerate() {
            if *seg == b"." || *seg == b".." || (seg.is_empty() && k + 1 < segs.len()) {
                return None;
            }
        }
        Some(out)
    }

    #[test]
    fn paths_normalise_as_the_rules_say_byte_by_byte() {
        let pieces: [&[u8]; 22] = [
            b"/",
            b"/",
            b".",
            b"..",
            b"a",
            b"Zz9",
            b"-_~",
            b"%2e",
            b"%2E",
            b"%41",
            b"%7e",
            b"%2F",
            b"%5c",
            b"%0a",
            b"%3a",
            b"%zz",
            b"%4",
            b"!$&'()*+,;=:@",
            b" ",
            b"\xc3\xa9",
            b"?",
            b"#",
        ];
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..20_000 {
            let mut raw = b"/".to_vec();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            for k in 0..(seed % 9) {
                raw.extend_from_slice(pieces[((seed >> (6 * k + 4)) % 22) as usize]);
            }
            if seed & 1 == 0 {
                raw.extend_from_slice(b"segment-long-enough-for-words");
            }
            let mut got = Vec::new();
            let got = push_path(&mut got, &raw, PathEnd::AtEnd).ok().map(|_| got);
            assert_eq!(
                got,
                path_by_the_letter(&raw),
                "{}",
                String::from_utf8_lossy(&raw)
            );
            // In a request target the path ends at the first `?` or `#`.
            let cut = raw
                .iter()
                .position(|&b| b == b'?' || b == b'#')
                .unwrap_or(raw.len());
            let mut got = Vec::new();
            let got = push_path(&mut got, &raw, PathEnd::AtQuery)
                .ok()
                .map(|end| (end, got));
            let want = path_by_the_letter(&raw[..cut]).map(|p| (cut, p));
            assert_eq!(got, want, "{}", String::from_utf8_lossy(&raw));
        }
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
