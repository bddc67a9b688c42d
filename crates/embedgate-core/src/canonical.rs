//! Spec §2: a URL (or what a server receives: the `Host` header and the
//! request target) in canonical form, and the string to sign built from it.
//!
//! Everything works on decoded bytes, so re-ordering or re-encoding a URL
//! (lower-case hex, `+` for `%20`, an encoded `~`) never changes the result,
//! while any change to what the bytes *mean* does.

use crate::host::canonical_host;
use crate::path::normalise_path;
use crate::percent::ascii_text;
use crate::query::CanonicalQuery;
use crate::reason::EmbedError;
use crate::url_parts::{split_absolute_url, split_target};

/// The first line of every string to sign.
pub const SCHEME: &str = "EG1-HMAC-SHA256";

/// The one query parameter the string to sign leaves out.
pub(crate) const SIG_PARAM: &[u8] = b"eg_sig";

/// What the names of the scheme's parameters start with (spec §1).
pub(crate) const SCHEME_PREFIX: &[u8] = b"eg_";

/// Whether a canonical parameter name belongs to the scheme (spec §1).
pub(crate) fn is_scheme_param(name: &[u8]) -> bool {
    name.starts_with(SCHEME_PREFIX)
}

/// Host, path and query of one URL, each in canonical form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CanonicalUrl {
    pub(crate) host: String,
    pub(crate) path: String,
    pub(crate) query: CanonicalQuery,
}

impl CanonicalUrl {
    /// A whole URL: `scheme://authority/path?query#fragment`.
    pub(crate) fn from_url(url: &str) -> Result<Self, EmbedError> {
        let (authority, target) = split_absolute_url(url)?;
        CanonicalUrl::from_request(authority, target)
    }

    /// What a verifier receives: the `Host` header (or the configured public
    /// host) and the request target in origin form (`/path?query`).
    pub(crate) fn from_request(host: &str, target: &str) -> Result<Self, EmbedError> {
        let (raw_path, raw_query) = split_target(target);
        Ok(CanonicalUrl {
            host: canonical_host(host)?,
            path: normalise_path(raw_path)?,
            query: CanonicalQuery::parse(raw_query)?,
        })
    }

    /// As [`CanonicalUrl::from_request`], the query left in the order
    /// written (§2 query steps 1-4, not 5): what an EGJ1 signer turns into
    /// `params`.
    pub(crate) fn in_written_order(host: &str, target: &str) -> Result<Self, EmbedError> {
        let (raw_path, raw_query) = split_target(target);
        Ok(CanonicalUrl {
            host: canonical_host(host)?,
            path: normalise_path(raw_path)?,
            query: CanonicalQuery::in_written_order(raw_query)?,
        })
    }

    /// `EG1-HMAC-SHA256 LF host LF path LF query`, the query being every
    /// parameter but `eg_sig`. (ASCII bytes: the MAC's input.)
    pub(crate) fn string_to_sign(&self) -> Vec<u8> {
        let mut sts = Vec::with_capacity(
            SCHEME.len() + self.host.len() + self.path.len() + self.query.joined_len() + 3,
        );
        for line in [SCHEME, &self.host, &self.path] {
            sts.extend_from_slice(line.as_bytes());
            sts.push(b'\n');
        }
        self.query.join(&mut sts, |name| name != SIG_PARAM);
        sts
    }

    /// The query a verifier forwards: the content parameters alone (every
    /// `eg_` parameter removed), canonical.
    pub(crate) fn content_query(&self) -> String {
        let mut out = Vec::with_capacity(self.query.joined_len());
        self.query.join(&mut out, |name| !is_scheme_param(name));
        ascii_text(out)
    }
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
    Ok(ascii_text(CanonicalUrl::from_url(url)?.string_to_sign()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sts(url: &str) -> String {
        string_to_sign(url).expect("canonicalises")
    }

    #[test]
    fn strings_to_sign() {
        assert_eq!(
            sts("https://h/p?b=%7e&a=1+2&&flag&a=0&eg_sig=x"),
            "EG1-HMAC-SHA256\nh\n/p\na=0&a=1%202&b=~&flag="
        );
        assert_eq!(sts("http://h:80"), "EG1-HMAC-SHA256\nh\n/\n");
        assert_eq!(sts("http://h:8080/#frag"), "EG1-HMAC-SHA256\nh:8080\n/\n");
        assert_eq!(sts("http://h?a=1#x&b=2"), "EG1-HMAC-SHA256\nh\n/\na=1");
    }

    #[test]
    fn bad_urls() {
        for bad in [
            "embed.example.com/d",
            "1http://h/",
            "https:///p",
            "https://u@h/p",
            "https://h h/p",
            "https://h/a/..;/b",
            "https://h/a?x=%zz",
        ] {
            assert!(string_to_sign(bad).is_err(), "{bad:?}");
        }
    }
}
