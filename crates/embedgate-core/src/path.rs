//! Spec §2 path: checked, then normalised; and scopes over normalised paths.

use crate::percent::{
    ascii_text, decode_canonical, escaped_byte, is_control, is_path_literal, is_unreserved,
    push_escape,
};
use crate::reason::EmbedError;

/// Normalises a path by spec §2 (also for scopes and route prefixes).
///
/// ```
/// assert_eq!(embedgate_core::normalise_path("/d/sales%7e2/x%3a%41").unwrap(), "/d/sales~2/x%3AA");
/// assert!(embedgate_core::normalise_path("/d/../admin").is_err());
/// assert!(embedgate_core::normalise_path("/d/..;x/admin").is_err());
/// ```
pub fn normalise_path(raw: &str) -> Result<String, EmbedError> {
    check_leading_slash(raw)?;
    let normalised = recode_path(raw.as_bytes())?;
    check_segments(&normalised)?;
    Ok(normalised)
}

/// "it starts with `/`".
fn check_leading_slash(raw: &str) -> Result<(), EmbedError> {
    if raw.starts_with('/') {
        Ok(())
    } else {
        Err(EmbedError::malformed("the path does not start with /"))
    }
}

/// The byte rules and the re-encoding: escapes of unreserved bytes are
/// decoded, other escapes keep their byte in upper-case hex, and bytes a
/// path does not carry literally are escaped. Refuses a `%` without two hex
/// digits, an encoded `/` or `\`, a literal `\`, and control bytes, literal
/// or encoded.
fn recode_path(raw: &[u8]) -> Result<String, EmbedError> {
    let mut out = Vec::with_capacity(raw.len() + 8);
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        if b == b'%' {
            let decoded = escaped_byte(raw, i).ok_or(EmbedError::malformed(
                "the path has a % not followed by two hex digits",
            ))?;
            check_escaped_path_byte(decoded)?;
            if is_unreserved(decoded) {
                out.push(decoded);
            } else {
                push_escape(&mut out, decoded);
            }
            i += 3;
        } else {
            check_literal_path_byte(b)?;
            if is_path_literal(b) {
                out.push(b);
            } else {
                push_escape(&mut out, b);
            }
            i += 1;
        }
    }
    Ok(ascii_text(out))
}

fn check_escaped_path_byte(decoded: u8) -> Result<(), EmbedError> {
    if decoded == b'/' || decoded == b'\\' {
        return Err(EmbedError::malformed(
            "the path has an encoded slash or backslash (%2F, %5C)",
        ));
    }
    if is_control(decoded) {
        return Err(EmbedError::malformed(
            "the path has an encoded control byte",
        ));
    }
    Ok(())
}

fn check_literal_path_byte(b: u8) -> Result<(), EmbedError> {
    if b == b'\\' {
        return Err(EmbedError::malformed("the path has a backslash"));
    }
    if is_control(b) {
        return Err(EmbedError::malformed("the path has a control byte"));
    }
    Ok(())
}

/// The segment rules, on the normalised path (where an escaped `.` is
/// already a `.`): no dot segment, and no empty segment but a final one.
fn check_segments(normalised: &str) -> Result<(), EmbedError> {
    // After the leading `/`: "/a/b/" has the segments "a", "b", "".
    let segments = normalised.as_bytes()[1..].split(|&b| b == b'/');
    let last = normalised.bytes().filter(|&b| b == b'/').count() - 1;
    for (k, segment) in segments.enumerate() {
        if is_dot_segment(segment) {
            return Err(EmbedError::malformed(
                "the path has a dot segment (., .., or one with ;parameters such as ..;)",
            ));
        }
        if segment.is_empty() && k != last {
            return Err(EmbedError::malformed("the path has an empty segment (//)"));
        }
    }
    Ok(())
}

/// A segment that is `.` or `..` once decoded and cut at its first `;`
/// (servlet containers read `..;x` as `..`).
fn is_dot_segment(segment: &[u8]) -> bool {
    // A dot segment starts with a literal `.`: the normalised form never
    // escapes an unreserved byte. Most segments stop here, undecoded.
    if !segment.starts_with(b".") {
        return false;
    }
    let decoded = decode_canonical(segment);
    let before_parameters = decoded.split(|&b| b == b';').next().unwrap_or_default();
    before_parameters == b"." || before_parameters == b".."
}

/// Whether `path` (normalised) lies under `prefix` (normalised), on a
/// segment boundary: `/d/sales` covers `/d/sales` and `/d/sales/x`, not
/// `/d/salesforce`.
///
/// ```
/// use embedgate_core::path_in_scope;
/// assert!(path_in_scope("/d/sales/q", "/d/sales"));
/// assert!(!path_in_scope("/d/salesforce", "/d/sales"));
/// ```
pub fn path_in_scope(path: &str, prefix: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || prefix.ends_with('/') || rest.starts_with('/'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_paths() {
        for bad in [
            "/a/./b",
            "/a/%2e%2E/b",
            "/a/..;/b",
            "/a/..;x",
            "/a/.;",
            "/a/%2e%2e;x/b",
            "/a/..%3Bjsessionid=1/b",
            "/..",
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
            "",
            "/a\u{7f}",
            "/a\tb",
        ] {
            assert!(normalise_path(bad).is_err(), "{bad:?} must be malformed");
        }
    }

    #[test]
    fn normal_forms() {
        assert_eq!(normalise_path("/").unwrap(), "/");
        assert_eq!(normalise_path("/a/b/").unwrap(), "/a/b/");
        assert_eq!(normalise_path("/a b/ü").unwrap(), "/a%20b/%C3%BC");
        assert_eq!(normalise_path("/%41%3a:@!").unwrap(), "/A%3A:@!");
        assert_eq!(normalise_path("/..a/.b/...").unwrap(), "/..a/.b/...");
        assert_eq!(normalise_path("/d/sales;v=2/x").unwrap(), "/d/sales;v=2/x");
        assert_eq!(normalise_path("/d/;x/..x;").unwrap(), "/d/;x/..x;");
        assert_eq!(normalise_path("/a?b#c").unwrap(), "/a%3Fb%23c");
    }

    #[test]
    fn scope_is_segment_aligned() {
        assert!(path_in_scope("/d/sales", "/d/sales"));
        assert!(path_in_scope("/d/sales/q", "/d/sales"));
        assert!(path_in_scope("/d/sales/q", "/d/"));
        assert!(!path_in_scope("/d/salesforce", "/d/sales"));
        assert!(!path_in_scope("/x", "/d"));
    }
}
