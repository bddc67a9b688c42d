//! Percent-encoding as the spec defines it: two byte classes and upper-case hex.

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// `A-Z a-z 0-9 - . _ ~`: never encoded.
pub(crate) const fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Bytes a normalised path may carry literally: unreserved, the
/// sub-delimiters `!$&'()*+,;=`, `:`, `@` and `/`.
pub(crate) const fn is_path_literal(b: u8) -> bool {
    is_unreserved(b)
        || matches!(
            b,
            b'!' | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
                | b'/'
        )
}

pub(crate) const fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Reads the two hex digits after a `%` at `bytes[i]`.
pub(crate) fn escaped_byte(bytes: &[u8], i: usize) -> Option<u8> {
    let hi = hex_value(*bytes.get(i + 1)?)?;
    let lo = hex_value(*bytes.get(i + 2)?)?;
    Some(hi << 4 | lo)
}

pub(crate) fn push_escape(out: &mut String, b: u8) {
    out.push('%');
    out.push(HEX_UPPER[usize::from(b >> 4)] as char);
    out.push(HEX_UPPER[usize::from(b & 0x0F)] as char);
}

/// Encodes one decoded byte for the query: unreserved stays, all else `%XX`.
pub(crate) fn push_query_byte(out: &mut String, b: u8) {
    if is_unreserved(b) {
        out.push(b as char);
    } else {
        push_escape(out, b);
    }
}

/// Encodes a decoded query name or value (spec §2 query, step 4).
pub(crate) fn encode_query_component(out: &mut String, decoded: &[u8]) {
    for &b in decoded {
        push_query_byte(out, b);
    }
}

/// Decodes `raw` (`+` is a space) and re-encodes it canonically in one pass.
/// Returns `false` on a `%` not followed by two hex digits.
pub(crate) fn recode_query_component(out: &mut String, raw: &[u8]) -> bool {
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => {
                out.push_str("%20");
                i += 1;
            }
            b'%' => match escaped_byte(raw, i) {
                Some(b) => {
                    push_query_byte(out, b);
                    i += 3;
                }
                None => return false,
            },
            b => {
                push_query_byte(out, b);
                i += 1;
            }
        }
    }
    true
}

/// Decodes a component that is already in canonical form (only `%XX`
/// escapes with upper-case hex, no `+`).
pub(crate) fn decode_canonical(encoded: &str) -> Vec<u8> {
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let Some(b) = escaped_byte(bytes, i) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}
