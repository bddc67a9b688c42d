//! Where the parts of a URL are: the authority of an absolute URL, and the
//! path and query of a request target. Nothing is decoded here.

use crate::reason::EmbedError;

/// Splits `scheme://authority/path?query#fragment` into the authority and
/// the request target (which starts with `/`, `?` or `#`, or is empty).
pub(crate) fn split_absolute_url(url: &str) -> Result<(&str, &str), EmbedError> {
    // The scheme ends at the first `:`, which must start `://`.
    let colon = url.bytes().position(|b| b == b':');
    let Some((scheme, rest)) = colon
        .filter(|&at| url[at..].starts_with("://"))
        .map(|at| (&url[..at], &url[at + 3..]))
    else {
        return Err(EmbedError::malformed(
            "not an absolute URL (expected scheme://host/path)",
        ));
    };
    if !is_scheme(scheme) {
        return Err(EmbedError::malformed("the URL scheme is invalid"));
    }
    let authority_end = rest
        .bytes()
        .position(|b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    Ok(rest.split_at(authority_end))
}

/// RFC 3986 §3.1: a letter, then letters, digits, `+`, `-` or `.`.
fn is_scheme(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// The raw path and raw query of a request target: the path ends at the
/// first `?` or `#`, the query at the first `#`. An empty path is `/`.
pub(crate) fn split_target(target: &str) -> (&str, &str) {
    // `str::split_once(char)` searches with the standard library's
    // `memchr`, a word at a time: a signed URL is a few hundred bytes.
    let without_fragment = target.split_once('#').map_or(target, |(before, _)| before);
    let (path, query) = without_fragment
        .split_once('?')
        .unwrap_or((without_fragment, ""));
    (if path.is_empty() { "/" } else { path }, query)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_urls_split_at_the_authority() {
        assert_eq!(
            split_absolute_url("https://h:8/p?q#f"),
            Ok(("h:8", "/p?q#f"))
        );
        assert_eq!(split_absolute_url("http://h"), Ok(("h", "")));
        assert_eq!(split_absolute_url("http://h?x"), Ok(("h", "?x")));
        for bad in ["h/p", "1http://h/", "ht tp://h/", "://h/"] {
            assert!(split_absolute_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn targets_split_at_question_mark_and_hash() {
        assert_eq!(split_target("/p?a=1#f"), ("/p", "a=1"));
        assert_eq!(split_target("/p#f?x"), ("/p", ""));
        assert_eq!(split_target(""), ("/", ""));
        assert_eq!(split_target("?a"), ("/", "a"));
        assert_eq!(split_target("/p?a?b"), ("/p", "a?b"));
    }
}
