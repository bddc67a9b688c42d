//! Spec §2 host: the authority as the browser sends it in `Host`,
//! lowercased, a trailing `:80` or `:443` removed.

use crate::percent::is_unreserved;
use crate::reason::EmbedError;

/// The canonical host of an authority (`Host` header value or the authority
/// of an absolute URL).
pub(crate) fn canonical_host(authority: &str) -> Result<String, EmbedError> {
    check_host_bytes(authority)?;
    let host = authority
        .strip_suffix(":443")
        .or_else(|| authority.strip_suffix(":80"))
        .unwrap_or(authority);
    Ok(host.to_ascii_lowercase())
}

/// A host is a name or an address, with an optional port: unreserved
/// bytes, `:`, `[` and `]`. User information (`user@host`) is refused.
fn check_host_bytes(authority: &str) -> Result<(), EmbedError> {
    if authority.is_empty() {
        return Err(EmbedError::malformed("the URL has no host"));
    }
    if authority.contains('@') {
        return Err(EmbedError::malformed(
            "the URL carries user information (user@host), which is not allowed",
        ));
    }
    let host_byte = |b: u8| is_unreserved(b) || matches!(b, b':' | b'[' | b']');
    if !authority.bytes().all(host_byte) {
        return Err(EmbedError::malformed(
            "the host has characters a host cannot have",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_lowercased_without_default_ports() {
        assert_eq!(
            canonical_host("EMBED.Example.com:443").as_deref(),
            Ok("embed.example.com")
        );
        assert_eq!(canonical_host("h:80").as_deref(), Ok("h"));
        assert_eq!(canonical_host("h:8080").as_deref(), Ok("h:8080"));
        assert_eq!(canonical_host("[::1]:443").as_deref(), Ok("[::1]"));
        for bad in ["", "u@h", "h h", "h/x", "h%41"] {
            assert!(canonical_host(bad).is_err(), "{bad:?}");
        }
    }
}
